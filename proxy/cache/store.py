"""Where cached answers live: an in-process LRU, or Redis shared by every replica.

A cache must never fail a request nor slow it beyond its timeout: every store answers a miss (get) or
does nothing (set) on any failure, and counts it in ``stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import orjson
from redis.exceptions import RedisError

from proxy.cache.entry import CachedAnswer

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
DEFAULT_MAX_VALUE_BYTES = 1 * MIB
REDIS_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass
class CacheStats:
    """Counters for metrics: hits + misses are lookups answered; errors are failed store calls."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    errors: int = 0
    evictions: int = 0  # entries pushed out by the LRU's count or byte bound (not TTL expiry)
    oversize: int = 0  # answers not stored because their encoding exceeds max_value_bytes
    skipped: int = 0  # calls not sent to Redis during its back-off after a failure


class ResponseCache(Protocol):
    stats: CacheStats

    async def get(self, key: str) -> CachedAnswer | None: ...
    async def set(self, key: str, answer: CachedAnswer, ttl_s: float) -> None: ...
    async def close(self) -> None: ...


def _encoded(answer: CachedAnswer, stats: CacheStats, limit: int) -> bytes | None:
    try:
        raw = answer.encode()
    except (orjson.JSONEncodeError, TypeError):
        stats.errors += 1  # a completion orjson cannot write: not worth failing the call for
        return None
    if len(raw) > limit:
        stats.oversize += 1
        return None
    return raw


class LocalLRUCache:
    """One process's cache: per-entry TTL, least-recently-used eviction by entry count and encoded bytes.

    Entries are kept encoded, so every hit decodes a fresh copy that callers may mutate freely, and the
    byte bound counts exactly what is held.
    """

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * MIB, *,
                 max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stats = CacheStats()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._max_value_bytes = min(max_value_bytes, max_bytes)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # key -> (expires_at, value)
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    async def get(self, key: str) -> CachedAnswer | None:
        item = self._entries.get(key)
        if item is not None and item[0] <= self._clock():
            self._remove(key)
            item = None
        answer = CachedAnswer.decode(item[1]) if item is not None else None
        if answer is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return answer

    async def set(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        raw = _encoded(answer, self.stats, self._max_value_bytes)
        if raw is None:
            return
        if key in self._entries:
            self._remove(key)
        self._entries[key] = (self._clock() + ttl_s, raw)
        self._bytes += len(raw)
        self.stats.sets += 1
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._remove(next(iter(self._entries)))  # the least recently used
            self.stats.evictions += 1

    def _remove(self, key: str) -> None:
        _, raw = self._entries.pop(key)
        self._bytes -= len(raw)

    async def close(self) -> None:
        self._entries.clear()
        self._bytes = 0


class RedisResponseCache:
    """Answers shared by every replica: GET, and SET with PX; each call bounded by ``timeout_ms``.

    After a failure, Redis is left alone for ``backoff_s`` (one probe per back-off): a Redis that
    swallows packets would otherwise add a full timeout to every cacheable request, twice.
    """

    def __init__(self, client: redis.asyncio.Redis, *, prefix: str = "llmgw:cache:", timeout_ms: int = 50,
                 max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES, backoff_s: float = 1.0,
                 owns_client: bool = False) -> None:
        self.stats = CacheStats()
        self._redis = client
        self._prefix = prefix
        self._timeout_s = timeout_ms / 1000
        self._max_value_bytes = max_value_bytes
        self._backoff_s = backoff_s
        self._owns_client = owns_client
        self._retry_at = 0.0  # time.monotonic() before which Redis is not called (0: it is up)

    async def get(self, key: str) -> CachedAnswer | None:
        if self._backing_off():
            return None
        try:
            async with asyncio.timeout(self._timeout_s):
                raw = await self._redis.get(self._prefix + key)
        except REDIS_FAILURES as exc:
            self._failed(exc)
            return None
        self._answered()
        answer = CachedAnswer.decode(raw) if raw is not None else None
        if answer is None:
            self.stats.misses += 1  # absent, or unreadable (another version, garbage): the next fill replaces it
            return None
        self.stats.hits += 1
        return answer

    async def set(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        ttl_ms = int(ttl_s * 1000)
        if ttl_ms <= 0 or self._backing_off():
            return
        raw = _encoded(answer, self.stats, self._max_value_bytes)
        if raw is None:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._redis.set(self._prefix + key, raw, px=ttl_ms)
        except REDIS_FAILURES as exc:
            self._failed(exc)
            return
        self._answered()
        self.stats.sets += 1

    def _backing_off(self) -> bool:
        if self._retry_at and time.monotonic() < self._retry_at:
            self.stats.skipped += 1
            return True
        return False

    def _failed(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if not self._retry_at:
            logger.warning("response cache: Redis unavailable (%s: %s); answering misses", type(exc).__name__, exc)
        self._retry_at = time.monotonic() + self._backoff_s

    def _answered(self) -> None:
        if self._retry_at:
            logger.warning("response cache: Redis available again (%d failed calls so far)", self.stats.errors)
        self._retry_at = 0.0

    async def close(self) -> None:
        if self._owns_client:
            with contextlib.suppress(*REDIS_FAILURES):
                await self._redis.aclose(close_connection_pool=True)  # its pool too: it came with the client
