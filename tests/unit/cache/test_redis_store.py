"""RedisResponseCache's failure handling with a scripted client: errors are misses, back-off, recovery."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from proxy.cache.entry import CachedAnswer
from proxy.cache.store import RedisResponseCache
from translators.usage import Usage

ANSWER = CachedAnswer(completion={"object": "chat.completion"}, chunks=None, usage=Usage(), cost_usd=Decimal(0),
                      deployment="d", provider="p", created_at=1.0)


class ScriptedRedis:
    """Fails the first ``failures`` calls, then behaves like a dict."""

    def __init__(self, failures: int = 0, delay_s: float = 0.0) -> None:
        self.failures, self.delay_s, self.data, self.calls = failures, delay_s, dict[str, Any](), 0

    async def _call(self) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.failures:
            self.failures -= 1
            raise RedisConnectionError("refused")

    async def get(self, key: str) -> Any:
        await self._call()
        return self.data.get(key)

    async def set(self, key: str, value: bytes, *, px: int) -> None:
        await self._call()
        self.data[key] = value


def cache(redis: ScriptedRedis, **kw: Any) -> RedisResponseCache:
    return RedisResponseCache(redis, **kw)  # type: ignore[arg-type]


async def test_error_is_a_miss_then_back_off_then_recovery() -> None:
    redis = ScriptedRedis(failures=1)
    store = cache(redis, backoff_s=0.05)
    assert await store.get("k") is None and store.stats.errors == 1
    await store.set("k", ANSWER, ttl_s=10)  # during the back-off: not sent
    assert redis.calls == 1 and store.stats.skipped == 1
    await asyncio.sleep(0.06)
    await store.set("k", ANSWER, ttl_s=10)
    assert await store.get("k") == ANSWER
    assert (store.stats.sets, store.stats.hits, store.stats.errors) == (1, 1, 1)


async def test_slow_redis_is_cut_at_the_timeout() -> None:
    store = cache(ScriptedRedis(delay_s=1.0), timeout_ms=20, backoff_s=0)
    assert await asyncio.wait_for(store.get("k"), timeout=0.5) is None
    await asyncio.wait_for(store.set("k", ANSWER, ttl_s=10), timeout=0.5)
    assert store.stats.errors == 2 and store.stats.sets == 0


@pytest.mark.parametrize("ttl_s", [0, -1, 0.0001])
async def test_sub_millisecond_ttl_is_not_stored(ttl_s: float) -> None:
    redis = ScriptedRedis()
    await cache(redis).set("k", ANSWER, ttl_s=ttl_s)
    assert redis.calls == 0


async def test_prefix_is_applied() -> None:
    redis = ScriptedRedis()
    await cache(redis, prefix="p:").set("k", ANSWER, ttl_s=10)
    assert list(redis.data) == ["p:k"]
