"""The limiter on a real 3-master Redis Cluster: one slot per team, exact bursts on every master,
settles batched across masters, scripts reloaded per node, and one master killed then back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import MovedError

from proxy.auth.principal import Limits, Principal
from proxy.errors import RateLimited, UpstreamUnavailable
from proxy.limits.plan import build_plan, hash_tag, keys_for, period_of
from proxy.limits.redis import RedisLimiter
from proxy.services import redis_client
from proxy.settings import Settings
from tests.conftest import ClusterFactory
from tests.redis_cluster import LoopbackCluster

pytestmark = pytest.mark.integration
ZERO = Decimal(0)


def cluster_client(url: str) -> RedisCluster:
    settings = Settings.from_env({}, redis_url=url, redis_cluster=True, redis_timeout_ms=1000)
    client = redis_client(settings)
    assert isinstance(client, RedisCluster)
    return client


def principal(team_id: str, **limits: int) -> Principal:
    return Principal(team_id=team_id, team_name=team_id, key_id="k1", team_limits=Limits(**limits))


def teams_on_distinct_masters(cluster: LoopbackCluster) -> dict[int, str]:
    """One fresh team id per master (port -> team), found by CLUSTER KEYSLOT of its hash tag."""
    found: dict[int, str] = {}
    while len(found) < len(cluster.ports):
        team_id = f"it-{uuid.uuid4().hex[:12]}"
        found.setdefault(cluster.master_of(hash_tag(team_id)), team_id)
    return found


@pytest.fixture
async def clients(redis_cluster_url: str) -> AsyncIterator[list[RedisCluster]]:
    made = [cluster_client(redis_cluster_url) for _ in range(3)]  # three replicas' clients
    yield made
    for client in made:
        await client.aclose()


async def burst(limiters: list[RedisLimiter], who: Principal, n: int) -> int:
    results = await asyncio.gather(
        *(limiters[i % len(limiters)].admit(who, tokens=10, cost_usd=ZERO) for i in range(n)), return_exceptions=True
    )
    assert all(isinstance(r, RateLimited) or not r.fallback for r in results), results  # type: ignore[union-attr]
    return sum(not isinstance(r, BaseException) for r in results)


async def answered_by_redis(limiter: RedisLimiter, who: Principal) -> bool:
    try:
        return not (await limiter.admit(who, tokens=1, cost_usd=ZERO)).fallback
    except UpstreamUnavailable:
        return False


def test_every_key_of_a_request_shares_the_teams_slot(redis_cluster: LoopbackCluster) -> None:
    # Braces in ids do not move keys apart: the first "{...}" of every key is the team's tag.
    for team_id in ("acme", "t-1", "we{ird}", "x}y", ""):
        plan = build_plan(principal(team_id, rpm=1, tpm=1, max_concurrency=1), tokens=1, cost_usd=ZERO, now_ms=0)
        with redis_cluster.node(redis_cluster.ports[0]) as node:
            slots = {node.execute_command("CLUSTER KEYSLOT", key) for key in keys_for(plan)}
        assert len(slots) == 1, (team_id, slots)


async def test_exact_bursts_for_teams_on_every_master(
    redis_cluster: LoopbackCluster, clients: list[RedisCluster]
) -> None:
    teams = teams_on_distinct_masters(redis_cluster)
    limiters = [RedisLimiter(client, timeout_ms=2000, policy="closed") for client in clients]
    admitted = await asyncio.gather(*(burst(limiters, principal(t, rpm=30), 100) for t in teams.values()))
    assert admitted == [30, 30, 30]
    for port, team_id in teams.items():  # each team's counters are on its own master; the others redirect
        key = f"rl:{hash_tag(team_id)}:rpm:team"
        with redis_cluster.node(port) as node:
            assert int(node.hget(key, "s") or 0) == 30
        for other in set(redis_cluster.ports) - {port}:
            with redis_cluster.node(other) as node, pytest.raises(MovedError) as moved:
                node.hget(key, "s")
            assert moved.value.port == port
    for limiter in limiters:
        await limiter.close()


async def test_settles_across_masters_free_every_slot(
    redis_cluster: LoopbackCluster, clients: list[RedisCluster], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = clients[0]
    limiter = RedisLimiter(client, timeout_ms=2000, policy="closed")
    whos = [principal(t, rpm=1000, max_concurrency=20) for t in teams_on_distinct_masters(redis_cluster).values()]
    admissions = [await limiter.admit(who, tokens=1, cost_usd=ZERO) for who in whos for _ in range(20)]
    pipelines = 0
    real_pipeline = client.pipeline

    def counting_pipeline(*args: object, **kwargs: object) -> object:
        nonlocal pipelines
        pipelines += 1
        return real_pipeline(*args, **kwargs)

    monkeypatch.setattr(client, "pipeline", counting_pipeline)
    await asyncio.gather(*(a.settle(tokens=1, cost_usd=ZERO) for a in admissions))
    print(f"\n60 settles on 3 masters: {pipelines} pipelines")
    assert pipelines <= 2 * 3  # one per master, give or take a batch
    again = [await limiter.admit(who, tokens=1, cost_usd=ZERO) for who in whos for _ in range(20)]
    assert not any(a.fallback for a in again)  # 20 more per team fit: every slot came back
    await limiter.close()


async def test_scripts_are_loaded_again_on_each_master(
    redis_cluster: LoopbackCluster, clients: list[RedisCluster]
) -> None:
    limiter = RedisLimiter(clients[0], timeout_ms=2000, policy="closed")
    whos = [principal(t, rpm=1000, max_concurrency=1) for t in teams_on_distinct_masters(redis_cluster).values()]
    first = [await limiter.admit(who, tokens=1, cost_usd=ZERO) for who in whos]
    for port in redis_cluster.ports:
        with redis_cluster.node(port) as node:
            node.script_flush()
    await asyncio.gather(*(a.settle(tokens=1, cost_usd=ZERO) for a in first))  # EVAL in the pipeline
    for port in redis_cluster.ports:
        with redis_cluster.node(port) as node:
            node.script_flush()
    second = [await limiter.admit(who, tokens=1, cost_usd=ZERO) for who in whos]  # EVAL after NOSCRIPT
    assert not any(a.fallback for a in second)  # and the slots of the first came back
    await limiter.close()


async def test_budget_and_spent_on_a_cluster(clients: list[RedisCluster]) -> None:
    async def seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        return Decimal("9.95")

    limiter = RedisLimiter(clients[0], timeout_ms=2000, policy="closed", budget_seed=seed)
    who = Principal(team_id=f"it-{uuid.uuid4().hex[:12]}", team_name="acme", key_id="k1",
                    team_limits=Limits(), team_budget_usd=Decimal(10))
    admission = await limiter.admit(who, tokens=1, cost_usd=Decimal("0.02"))
    await admission.settle(tokens=1, cost_usd=Decimal("0.019"))
    assert await limiter.spent(who.team_id, period_of(int(time.time() * 1000))) == Decimal("9.969")
    await limiter.close()


async def test_one_master_killed_only_its_teams_follow_the_policy(start_redis_cluster: ClusterFactory) -> None:
    cluster = start_redis_cluster(full_coverage=False, node_timeout_ms=1000)  # its own: this test kills a node
    teams = teams_on_distinct_masters(cluster)
    victim, survivor = cluster.ports[0], cluster.ports[1]
    clients = [cluster_client(cluster.url) for _ in range(2)]
    fail_open = RedisLimiter(clients[0], timeout_ms=500, policy="open", backoff_s=0.3)
    fail_closed = RedisLimiter(clients[1], timeout_ms=500, policy="closed", backoff_s=0.3)
    both = [fail_open, fail_closed]
    try:
        assert await burst(both, principal(teams[victim], rpm=4), 6) == 4
        probe = f"probe-{uuid.uuid4().hex[:8]}"  # a team on a surviving master (asked while all answer)
        while cluster.master_of(hash_tag(probe)) != survivor:
            probe = f"probe-{uuid.uuid4().hex[:8]}"
        cluster.kill(victim)
        started = time.monotonic()
        down = principal(teams[victim], rpm=4)
        answered = await fail_open.admit(down, tokens=1, cost_usd=ZERO)
        assert answered.fallback and fail_open.fallback_count == 1
        with pytest.raises(UpstreamUnavailable):
            await fail_closed.admit(down, tokens=1, cost_usd=ZERO)
        assert time.monotonic() - started < 1.5  # bounded by the timeout, never hanging
        await answered.settle(tokens=1, cost_usd=ZERO)
        # Once the cluster has flagged it as failed too, the other masters' teams keep their exact shared
        # limits (cluster-require-full-coverage no), through both limiters.
        cluster.wait_failed(victim)
        # Right after the failure flag, a client may still be refreshing its slot table (the dead node
        # among those it asks), and the other masters' calls can fail for that moment (seen once in 3 CI
        # runs: fail-closed 503s on a survivor's team). Bounded, then exact again.
        flagged = time.monotonic()
        for limiter in both:
            while not await answered_by_redis(limiter, principal(probe)):
                assert time.monotonic() - flagged < 5, "the surviving masters' teams never came back to Redis"
                await asyncio.sleep(0.1)
        print(f"\nsurviving masters answered {time.monotonic() - flagged:.1f} s after the failure flag")
        fallbacks = fail_open.fallback_count  # 1, plus any probe above that met the refresh
        assert await burst(both, principal(teams[survivor], rpm=5), 12) == 5
        assert fail_open.fallback_count == fallbacks  # the survivors' burst never fell back
        assert (await fail_open.admit(down, tokens=1, cost_usd=ZERO)).fallback  # still its policy
        cluster.start_node(victim)  # same id and slots (nodes.conf), empty
        restarted = time.monotonic()
        cluster.wait_ok()
        print(f"\ncluster_state:ok {time.monotonic() - restarted:.1f} s after the restart")
        for limiter in both:  # one probe per back-off (0.3 s) until that master answers
            while not await answered_by_redis(limiter, principal(teams[victim])):
                assert time.monotonic() - restarted < 10, "the killed master's teams never came back to Redis"
                await asyncio.sleep(0.1)
        print(f"both limiters back on that master {time.monotonic() - restarted:.1f} s after the restart")
        again = f"it-{uuid.uuid4().hex[:8]}"
        while cluster.master_of(hash_tag(again)) != victim:
            again = f"it-{uuid.uuid4().hex[:8]}"
        assert await burst(both, principal(again, rpm=4), 9) == 4
    finally:
        for client in clients:
            await client.aclose()
        cluster.stop()


async def test_a_single_node_client_still_works(redis_url: str) -> None:
    # The same limiter code on the plain client: one shard for everything.
    client = aioredis.Redis.from_url(redis_url)
    limiter = RedisLimiter(client, timeout_ms=2000, policy="closed")
    assert await burst([limiter], principal(f"it-{uuid.uuid4().hex[:12]}", rpm=3), 5) == 3
    await limiter.close()
    await client.aclose()
