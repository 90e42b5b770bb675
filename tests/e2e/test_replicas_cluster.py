"""Gateways on a 3-master Redis Cluster when one master dies: its teams follow the failure policy (open:
per-process limits; closed: 503), never a 500; the other masters' teams keep exact shared limits; and
once the master is back, its teams are exact again. (The healthy-cluster tests are in test_replicas.py.)
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx
import pytest

from proxy.limits.plan import hash_tag
from tests.conftest import ClusterFactory
from tests.e2e.conftest import ADMIN_KEY, Gateway, GatewayFactory
from tests.e2e.test_replicas import BODY, burst
from tests.redis_cluster import LoopbackCluster

pytestmark = pytest.mark.e2e


def team_on(cluster: LoopbackCluster, gateway: Gateway, port: int, rpm: int) -> str:
    """A new team whose keys live on the master `port`; returns its key's secret."""
    team_id = f"cl-{uuid.uuid4().hex[:8]}"
    while cluster.master_of(hash_tag(team_id)) != port:
        team_id = f"cl-{uuid.uuid4().hex[:8]}"
    with gateway.admin() as admin:
        assert admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id,
                                                "limits": {"rpm": rpm}}).status_code == 201
        return str(admin.post("/admin/keys", json={"team_id": team_id}).json()["key"])


def fallbacks(gateway: Gateway) -> int:
    text = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
    match = re.search(r"^llm_gateway_ratelimit_fallback_total (\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def statuses(responses: list[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


def call(gateway: Gateway, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=BODY, headers=headers, timeout=30).status_code


def test_one_master_down_then_back(
    start_gateway: GatewayFactory, start_redis_cluster: ClusterFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cluster = start_redis_cluster(full_coverage=False, node_timeout_ms=1000)  # its own: a master is killed
    db = str(tmp_path_factory.mktemp("cluster-outage") / "gateway.db")
    env = {"REDIS_URL": cluster.url, "LLM_GATEWAY_REDIS_CLUSTER": "true", "LLM_GATEWAY_SQLITE_PATH": db,
           "LLM_GATEWAY_REDIS_TIMEOUT_MS": "500"}
    fail_open = [start_gateway(**env, LLM_GATEWAY_RATELIMIT_FAILURE_POLICY="open") for _ in range(2)]
    fail_closed = start_gateway(**env, LLM_GATEWAY_RATELIMIT_FAILURE_POLICY="closed")
    everyone = [*fail_open, fail_closed]
    victim, survivor = cluster.ports[0], cluster.ports[1]
    down_key = team_on(cluster, everyone[0], victim, rpm=1000)
    survivor_key = team_on(cluster, everyone[0], survivor, rpm=10)
    assert {call(g, down_key) for g in everyone} == {200}

    cluster.kill(victim)
    print(f"\nmaster flagged as failed {cluster.wait_failed(victim):.1f} s after the kill")
    opened = [r for g in fail_open for r in asyncio.run(burst([g.url], down_key, 10))]
    closed = asyncio.run(burst([fail_closed.url], down_key, 10))
    assert statuses(opened) == {200: 20}  # per-process limits (1000 RPM) while its master is down
    assert statuses(closed) == {503: 10}
    assert all(r.json()["error"]["message"] == "rate limiter unavailable" for r in closed)
    assert all(fallbacks(g) >= 1 for g in fail_open) and fallbacks(fail_closed) == 0
    # The surviving masters' team: exactly its 10 RPM across the three gateways, during the outage.
    assert statuses(asyncio.run(burst([g.url for g in everyone], survivor_key, 30))) == {200: 10, 429: 20}

    cluster.start_node(victim)  # same node id and slots (nodes.conf), no data
    restarted = time.monotonic()
    cluster.wait_ok()
    while True:
        time.sleep(1.1)  # past each gateway's back-off (1 s): its next request for that master probes it
        before = [fallbacks(g) for g in fail_open]
        if {call(g, down_key) for g in everyone} == {200} and [fallbacks(g) for g in fail_open] == before:
            break  # every gateway's probe was answered by the master (none fell back, none was a 503)
        assert time.monotonic() - restarted < 15, "the restarted master's teams never came back to Redis"
    print(f"gateways back on the restarted master {time.monotonic() - restarted:.1f} s after its restart")
    back_key = team_on(cluster, everyone[0], victim, rpm=10)
    assert statuses(asyncio.run(burst([g.url for g in everyone], back_key, 30))) == {200: 10, 429: 20}
    assert all("Traceback" not in g.logs() for g in everyone)
