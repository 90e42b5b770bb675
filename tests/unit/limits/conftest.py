"""Every algorithm test runs twice: against the in-process limiter and the real Lua under fakeredis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from proxy.limits.redis import Limiter, LocalLimiter, RedisLimiter
from tests.unit.limits.support import Factory, FakeClock, Seed, fake_redis


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["local", "lua"])
async def make(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Factory]:
    """make(budget_seed=None, inflight_ttl_s=900) -> a limiter on the injected clock."""
    made: list[Limiter] = []

    def factory(budget_seed: Seed | None = None, inflight_ttl_s: float = 900.0) -> Limiter:
        limiter: Limiter
        if request.param == "local":
            limiter = LocalLimiter(budget_seed=budget_seed, clock=clock, inflight_ttl_s=inflight_ttl_s)
        else:
            limiter = RedisLimiter(
                fake_redis(), budget_seed=budget_seed, clock=clock,
                inflight_ttl_s=inflight_ttl_s, owns_client=True, timeout_ms=10_000,
            )
        made.append(limiter)
        return limiter

    yield factory
    for limiter in made:
        await limiter.close()
