"""The limiter against the real Redis: server time, exact bursts, budgets, and Redis killed mid-test.

Every test uses its own team id, so its keys ({team:<id>} hash tag) never meet other tests' keys;
only those keys are deleted afterwards (the Redis on 6379 is shared).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from proxy.auth.principal import Limits, Principal
from proxy.errors import QuotaExceeded, RateLimited, UpstreamUnavailable
from proxy.limits.plan import BUCKET_MS, WINDOW_MS, period_of
from proxy.limits.redis import RedisLimiter
from tests.conftest import free_port, start_redis

pytestmark = pytest.mark.integration
ZERO = Decimal(0)


def client(url: str) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=32, timeout=2)
    return aioredis.Redis(connection_pool=pool)


def team(**limits: int) -> Principal:
    return Principal(
        team_id=f"it-{uuid.uuid4().hex[:12]}", team_name="acme", key_id="k1", team_limits=Limits(**limits)
    )


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = client(redis_url)
    yield redis
    async for key in redis.scan_iter(match="*{team:it-*"):
        await redis.delete(key)
    await redis.aclose()


async def test_exact_burst_with_server_time(redis_client: aioredis.Redis) -> None:
    limiter, who = RedisLimiter(redis_client, timeout_ms=2000, policy="closed"), team(rpm=30, tpm=10_000)
    results = await asyncio.gather(
        *(limiter.admit(who, tokens=10, cost_usd=ZERO) for _ in range(100)), return_exceptions=True
    )
    rejected = [r for r in results if isinstance(r, RateLimited)]
    assert len(rejected) == 70 and len(results) - len(rejected) == 30
    assert all(r.retry_after_s and r.retry_after_s > 0 and r.headers["retry-after"] for r in rejected)
    assert all(r.headers["x-ratelimit-remaining-requests"] == "0" for r in rejected)
    # The counters are observable in Redis: one hash of buckets per limit, under the team's hash tag,
    # with their sum in "s"; a burst lands in one or two buckets (a count and a newest-request time each).
    state = await redis_client.hgetall(f"rl:{{team:{who.team_id}}}:rpm:team")
    assert int(state[b"s"]) == 30 and len(state) <= 3 + 2 * 2
    tokens = await redis_client.hgetall(f"rl:{{team:{who.team_id}}}:tpm:team")
    assert int(tokens[b"s"]) == 300
    assert 0 < await redis_client.pttl(f"rl:{{team:{who.team_id}}}:rpm:team") <= 62_000


async def test_bucket_hash_stays_bounded_under_steady_traffic(redis_client: aioredis.Redis) -> None:
    # An injected clock walks 5 minutes in 0.25 s steps: two fields per live bucket (its count and its
    # newest request's time), never more.
    now = [1_700_000_000.0]
    limiter = RedisLimiter(redis_client, timeout_ms=2000, policy="closed", clock=lambda: now[0])
    who, sizes = team(rpm=100_000), []
    for _ in range(1200):
        now[0] += 0.25
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
        sizes.append(await redis_client.hlen(f"rl:{{team:{who.team_id}}}:rpm:team"))
    assert max(sizes) <= 2 * (WINDOW_MS // BUCKET_MS + 1) + 3
    # Exactly the requests of the last 60 s (4 a second): the one admitted 60.0 s ago has left.
    assert int(await redis_client.hget(f"rl:{{team:{who.team_id}}}:rpm:team", "s")) == 60 * 4


async def test_budget_burst_overshoots_by_at_most_one_reservation(redis_client: aioredis.Redis) -> None:
    seeds: list[str] = []

    async def seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        seeds.append(period)
        return Decimal("9.95")

    limiter = RedisLimiter(redis_client, timeout_ms=2000, policy="closed", budget_seed=seed)
    who = Principal(team_id=f"it-{uuid.uuid4().hex[:12]}", team_name="acme", key_id="k1",
                    team_limits=Limits(), team_budget_usd=Decimal(10))
    reservation, real = Decimal("0.02"), Decimal("0.019")

    async def one() -> bool:
        try:
            admission = await limiter.admit(who, tokens=1, cost_usd=reservation)
        except QuotaExceeded:
            return False
        await admission.settle(tokens=1, cost_usd=real)
        return True

    outcomes = await asyncio.gather(*(one() for _ in range(200)))
    spent = await limiter.spent(who.team_id, period_of(int(time.time() * 1000)))
    assert sum(outcomes) >= 3 and len(seeds) == 1
    assert spent == Decimal("9.95") + real * sum(outcomes)
    assert spent <= Decimal(10) + reservation


async def admitted_count(limiters: list[RedisLimiter], who: Principal, n: int) -> int:
    count = 0
    for i in range(n):
        try:
            admission = await limiters[i % len(limiters)].admit(who, tokens=1, cost_usd=ZERO)
        except RateLimited:
            continue
        assert not admission.fallback
        count += 1
    return count


async def test_redis_killed_mid_test_then_back() -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    proc = start_redis(port)
    clients = [client(url) for _ in range(3)]
    fail_open = RedisLimiter(clients[0], timeout_ms=200, policy="open", backoff_s=0.3)
    fail_closed = RedisLimiter(clients[1], timeout_ms=200, policy="closed", backoff_s=0.3)
    try:
        who = team(rpm=4)
        assert await admitted_count([fail_open, fail_closed], who, 6) == 4
        proc.kill()
        proc.wait()
        started = time.monotonic()
        answered = await fail_open.admit(team(rpm=4), tokens=1, cost_usd=ZERO)
        assert answered.fallback and fail_open.fallback_count == 1
        with pytest.raises(UpstreamUnavailable):
            await fail_closed.admit(team(rpm=4), tokens=1, cost_usd=ZERO)
        assert time.monotonic() - started < 2  # bounded by the timeout, never hanging
        await answered.settle(tokens=1, cost_usd=ZERO)
        proc = start_redis(port)
        await asyncio.sleep(0.35)  # past the back-off: the next request probes Redis again
        third = RedisLimiter(clients[2], timeout_ms=200, policy="open")
        assert await admitted_count([fail_open, fail_closed, third], team(rpm=4), 9) == 4
    finally:
        proc.kill()
        proc.wait()
        for redis in clients:
            await redis.aclose()
