"""LocalLRUCache: TTL per entry and LRU eviction by count and bytes, driven by a fake clock."""

from __future__ import annotations

from decimal import Decimal

from proxy.cache.entry import CachedAnswer
from proxy.cache.store import LocalLRUCache
from translators.usage import Usage


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(text: str = "hi") -> CachedAnswer:
    completion = {"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant",
                                                                                    "content": text}}]}
    return CachedAnswer(completion=completion, chunks=None, usage=Usage(output_tokens=1), cost_usd=Decimal("0.01"),
                        deployment="d", provider="p", created_at=1.0)


async def test_get_set_and_ttl_expiry() -> None:
    clock = FakeClock()
    cache = LocalLRUCache(clock=clock)
    await cache.set("k", answer(), ttl_s=10)
    assert await cache.get("k") == answer()
    clock.now += 9.9
    assert await cache.get("k") is not None
    clock.now += 0.1
    assert await cache.get("k") is None and len(cache) == 0 and cache.bytes == 0
    assert (cache.stats.hits, cache.stats.misses, cache.stats.sets, cache.stats.evictions) == (2, 1, 1, 0)


async def test_hits_are_fresh_copies() -> None:
    cache = LocalLRUCache()
    await cache.set("k", answer(), ttl_s=10)
    first = await cache.get("k")
    assert first is not None
    first.completion["choices"][0]["message"]["content"] = "mutated"
    assert await cache.get("k") == answer()


async def test_lru_eviction_by_count_keeps_recently_used() -> None:
    cache = LocalLRUCache(max_entries=2)
    await cache.set("a", answer("a"), ttl_s=10)
    await cache.set("b", answer("b"), ttl_s=10)
    assert await cache.get("a") is not None  # "a" is now the most recently used
    await cache.set("c", answer("c"), ttl_s=10)
    assert await cache.get("b") is None
    assert await cache.get("a") == answer("a") and await cache.get("c") == answer("c")
    assert cache.stats.evictions == 1 and len(cache) == 2


async def test_lru_eviction_by_bytes() -> None:
    size = len(answer("x" * 100).encode())
    cache = LocalLRUCache(max_bytes=size * 2 + 10)
    for name in "abc":
        await cache.set(name, answer("x" * 100), ttl_s=10)
    assert len(cache) == 2 and cache.bytes == size * 2 and cache.stats.evictions == 1
    assert await cache.get("a") is None


async def test_replacing_a_key_recounts_its_bytes() -> None:
    cache = LocalLRUCache()
    await cache.set("k", answer("x" * 500), ttl_s=10)
    await cache.set("k", answer("y"), ttl_s=10)
    assert len(cache) == 1 and cache.bytes == len(answer("y").encode())
    assert await cache.get("k") == answer("y")


async def test_oversize_values_and_non_positive_ttls_are_not_stored() -> None:
    cache = LocalLRUCache(max_value_bytes=200)
    await cache.set("big", answer("x" * 500), ttl_s=10)
    await cache.set("zero", answer(), ttl_s=0)
    assert len(cache) == 0 and cache.stats.oversize == 1 and cache.stats.sets == 0


async def test_unencodable_answer_counts_an_error_and_does_not_raise() -> None:
    cache = LocalLRUCache()
    bad = CachedAnswer(completion={"x": object()}, chunks=None, usage=Usage(), cost_usd=Decimal(0),
                       deployment="d", provider="p", created_at=1.0)
    await cache.set("k", bad, ttl_s=10)
    assert cache.stats.errors == 1 and len(cache) == 0


async def test_close_empties() -> None:
    cache = LocalLRUCache()
    await cache.set("k", answer(), ttl_s=10)
    await cache.close()
    assert len(cache) == 0 and cache.bytes == 0
