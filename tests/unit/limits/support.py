"""Helpers shared by the limiter tests: an injected clock and a fakeredis client shaped like the real one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import fakeredis
import redis.asyncio

from proxy.limits.redis import Limiter

T0 = 1_700_000_040.0  # a window boundary: a multiple of 60 s


class FakeClock:
    def __init__(self, start: float = T0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def fake_redis() -> fakeredis.FakeAsyncRedis:
    """Like the lead's client: a blocking pool, so a burst waits for a connection instead of failing."""
    pool = redis.asyncio.BlockingConnectionPool
    return fakeredis.FakeAsyncRedis(connection_pool_class=pool, max_connections=16)


Seed = Callable[[str, str], Awaitable[Decimal]]
Factory = Callable[..., Limiter]
