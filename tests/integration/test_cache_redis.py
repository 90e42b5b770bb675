"""RedisResponseCache against the real Redis: round trip, PX expiry, unreadable values, and a Redis that
is gone or silent answering misses within the timeout.

Each test writes under its own random prefix and deletes exactly those keys (the Redis on 6379 is shared).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from proxy.cache.entry import CachedAnswer
from proxy.cache.store import RedisResponseCache
from translators.usage import Usage

pytestmark = pytest.mark.integration


def client(url: str) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=8, timeout=2)
    return aioredis.Redis(connection_pool=pool)


def answer(text: str = "hi") -> CachedAnswer:
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fast",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    return CachedAnswer(completion=completion, chunks=None, usage=Usage(input_tokens=3, output_tokens=1),
                        cost_usd=Decimal("0.000000042"), deployment="bedrock/haiku", provider="aws-bedrock",
                        created_at=time.time())


@pytest.fixture
def prefix() -> str:
    return f"llmgw:test-cache:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_client(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    redis = client(redis_url)
    yield redis
    async for key in redis.scan_iter(match=prefix + "*"):
        await redis.delete(key)
    await redis.aclose(close_connection_pool=True)


async def test_round_trip_with_px_ttl(redis_client: aioredis.Redis, prefix: str) -> None:
    cache = RedisResponseCache(redis_client, prefix=prefix, timeout_ms=1000)
    stored = answer()
    assert await cache.get("k") is None
    await cache.set("k", stored, ttl_s=30)
    assert await cache.get("k") == stored
    assert 29_000 < await redis_client.pttl(prefix + "k") <= 30_000
    assert (cache.stats.hits, cache.stats.misses, cache.stats.sets, cache.stats.errors) == (1, 1, 1, 0)


async def test_entry_expires(redis_client: aioredis.Redis, prefix: str) -> None:
    cache = RedisResponseCache(redis_client, prefix=prefix, timeout_ms=1000)
    await cache.set("k", answer(), ttl_s=0.2)
    assert await cache.get("k") is not None
    await asyncio.sleep(0.35)
    assert await cache.get("k") is None and await redis_client.exists(prefix + "k") == 0


async def test_unreadable_value_is_a_miss(redis_client: aioredis.Redis, prefix: str) -> None:
    cache = RedisResponseCache(redis_client, prefix=prefix, timeout_ms=1000)
    await redis_client.set(prefix + "garbage", b"\x00not json", px=30_000)
    await redis_client.set(prefix + "future", b'{"v": 99}', px=30_000)
    assert await cache.get("garbage") is None and await cache.get("future") is None
    assert (cache.stats.misses, cache.stats.errors) == (2, 0)
    await cache.set("garbage", answer("fixed"), ttl_s=30)  # the next fill replaces it
    assert (await cache.get("garbage")) is not None


async def test_oversize_value_is_not_stored(redis_client: aioredis.Redis, prefix: str) -> None:
    cache = RedisResponseCache(redis_client, prefix=prefix, timeout_ms=1000, max_value_bytes=1000)
    await cache.set("big", answer("x" * 2000), ttl_s=30)
    assert await redis_client.exists(prefix + "big") == 0 and cache.stats.oversize == 1


async def test_dead_redis_misses_fast() -> None:
    dead = client("redis://127.0.0.1:1/0")
    cache = RedisResponseCache(dead, timeout_ms=200, owns_client=True)
    started = time.monotonic()
    assert await cache.get("k") is None
    await cache.set("k", answer(), ttl_s=30)
    assert await cache.get("k") is None
    assert time.monotonic() - started < 0.3  # one failed probe; then back-off skips Redis entirely
    assert (cache.stats.errors, cache.stats.skipped, cache.stats.hits, cache.stats.sets) == (1, 2, 0, 0)
    await cache.close()


async def test_silent_redis_is_bounded_by_the_timeout() -> None:
    """A Redis that accepts connections and never answers (a stalled or partitioned server)."""
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cache = RedisResponseCache(client(f"redis://127.0.0.1:{port}/0"), timeout_ms=50, backoff_s=0, owns_client=True)
    try:
        for _ in range(3):
            started = time.monotonic()
            assert await cache.get("k") is None
            await cache.set("k", answer(), ttl_s=30)
            assert time.monotonic() - started < 0.25  # two calls, 50 ms each, plus scheduling slack
        assert cache.stats.errors == 6 and accepted
    finally:
        await cache.close()
        for writer in accepted:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
