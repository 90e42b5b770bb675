"""Several gateway processes sharing one Redis, or one Redis Cluster: limits, revocation and budgets hold
across replicas."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import Gateway, GatewayFactory

pytestmark = pytest.mark.e2e

BODY = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "EMULATOR:reply=ok"}]}


def create_team_key(gateway: Gateway, **team: object) -> tuple[str, str, str]:
    team_id = "t-" + uuid.uuid4().hex[:10]
    with gateway.admin() as admin:
        created = admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id, **team})
        assert created.status_code in (200, 201), created.text
        key = admin.post("/admin/keys", json={"team_id": team_id, "name": "e2e"})
        assert key.status_code in (200, 201), key.text
    return team_id, key.json()["key"], key.json()["key_id"]


@pytest.fixture(scope="module", params=["redis", "redis-cluster"])
def replicas(
    request: pytest.FixtureRequest, start_gateway: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> list[Gateway]:
    """Three gateways on one Redis, then on a 3-master Redis Cluster (LLM_GATEWAY_REDIS_CLUSTER)."""
    shared_db = str(tmp_path_factory.mktemp("shared") / "gateway.db")
    if request.param == "redis":
        env = {"REDIS_URL": request.getfixturevalue("redis_url")}
    else:
        env = {"REDIS_URL": request.getfixturevalue("redis_cluster_url"), "LLM_GATEWAY_REDIS_CLUSTER": "true"}
    return [start_gateway(LLM_GATEWAY_SQLITE_PATH=shared_db, **env) for _ in range(3)]


def emulator_calls(emulator_url: str) -> int:
    return int(httpx.get(f"{emulator_url}/_emulator/calls").json()["total"])


async def burst(urls: list[str], key: str, total: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=total)) as http:
        return await asyncio.gather(*(
            http.post(f"{urls[i % len(urls)]}/v1/chat/completions", json=BODY,
                      headers={"Authorization": f"Bearer {key}"})
            for i in range(total)
        ))


def test_three_replicas_admit_exactly_the_team_rpm(replicas: list[Gateway], emulator_url: str) -> None:
    _, key, _ = create_team_key(replicas[0], limits={"rpm": 30})
    before = emulator_calls(emulator_url)
    responses = asyncio.run(burst([g.url for g in replicas], key, 200))
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    others = [(r.status_code, r.text[:200]) for r in responses if r.status_code not in (200, 429)]
    assert len(ok) == 30 and len(limited) == 170, others
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert all(r.json()["error"]["code"] == "rate_limit_exceeded" for r in limited)
    assert all(r.json()["error"]["type"] == "requests" for r in limited)
    assert emulator_calls(emulator_url) - before == 30


def test_revoked_key_fails_on_every_replica_within_a_second(replicas: list[Gateway]) -> None:
    _, key, key_id = create_team_key(replicas[0], limits={"rpm": 1000})
    headers = {"Authorization": f"Bearer {key}"}
    for gateway in replicas:  # warm every replica's cache
        assert httpx.post(f"{gateway.url}/v1/chat/completions", json=BODY, headers=headers).status_code == 200
    with replicas[0].admin() as admin:
        revoked_at = time.monotonic()
        assert admin.post(f"/admin/keys/{key_id}/revoke").status_code == 200
    pending = set(range(len(replicas)))
    while pending and time.monotonic() - revoked_at < 1.0:
        for i in list(pending):
            if httpx.get(f"{replicas[i].url}/v1/models", headers=headers).status_code == 401:
                pending.discard(i)
        time.sleep(0.02)
    assert not pending, f"replicas {pending} still accepted a revoked key after 1 s"


def test_budget_holds_across_replicas(replicas: list[Gateway]) -> None:
    # claude-3-haiku: a reservation for max_tokens=100 is a few hundredths of a cent.
    _, key, _ = create_team_key(replicas[0], limits={"rpm": 100000}, monthly_budget_usd="0.0005")
    responses = asyncio.run(burst([g.url for g in replicas], key, 100))
    statuses = {r.status_code for r in responses}
    assert 200 in statuses and 429 in statuses
    quota = [r for r in responses if r.status_code == 429]
    assert all(r.json()["error"]["type"] == "insufficient_quota" for r in quota)
