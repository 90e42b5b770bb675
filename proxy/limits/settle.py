"""Settles of many requests share one Redis round trip: a pipeline of EVALSHA calls.

Admission must wait for its own answer, but a settle only has to land: under load, the settles that
arrive while one pipeline is in flight go out together in the next, so a request costs about one round
trip (its admit) instead of two. Each caller still awaits its own settle having been sent.

Each shard (proxy/limits/cluster.py: a single Redis, or one Redis Cluster master) has its own queue and
pipelines, so a master that is down delays, fails and is reported for its own settles only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    import redis.asyncio

    from proxy.limits.cluster import Script

Call = tuple[list[str], list[Any]]


class SettleBatcher:
    def __init__(
        self,
        client: redis.asyncio.Redis | redis.asyncio.RedisCluster,
        script: Script,
        *,
        timeout_s: float,
        failures: tuple[type[BaseException], ...],
        # (shard, error, time.monotonic() the batch was sent)
        on_failure: Callable[[str, BaseException, float], None],
        on_success: Callable[[str], None] = lambda shard: None,
    ) -> None:
        self._redis = client
        self._script = script
        self._timeout_s = timeout_s
        self._failures = failures
        self._on_failure = on_failure
        self._on_success = on_success
        self._queues: dict[str, list[tuple[Call, asyncio.Future[None]]]] = {}
        self._flushers: dict[str, asyncio.Task[None]] = {}

    async def settle(self, shard: str, keys: list[str], args: list[Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(shard, []).append(((keys, args), future))
        flusher = self._flushers.get(shard)
        if flusher is None or flusher.done():
            self._flushers[shard] = asyncio.create_task(self._flush(shard))
        await asyncio.shield(future)  # a cancelled caller must not cancel the others' batch

    async def _flush(self, shard: str) -> None:
        while batch := self._queues.pop(shard, []):
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._timeout_s):
                    await self._send([call for call, _ in batch])
                self._on_success(shard)
            except self._failures as exc:
                self._on_failure(shard, exc, started)  # slots and reservations then expire with the in-flight TTL
            finally:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _send(self, calls: list[Call]) -> None:
        results = await self._pipeline(calls)
        missing = [call for call, result in zip(calls, results, strict=True) if isinstance(result, NoScriptError)]
        if missing:  # Redis restarted or flushed its script cache: EVAL (caches it there), only those
            results = await self._pipeline(missing, source=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def _pipeline(self, calls: list[Call], *, source: bool = False) -> list[Any]:
        # Not a transaction: a cluster pipeline sends each master its calls (each call's keys share one
        # slot). Raw commands, since redis-py's cluster pipeline refuses its evalsha() method.
        pipe = self._redis.pipeline(transaction=False)
        command, script = ("EVAL", self._script.source) if source else ("EVALSHA", self._script.sha)
        for keys, args in calls:
            pipe.execute_command(command, script, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))

    async def close(self) -> None:
        if self._flushers:
            await asyncio.wait(self._flushers.values(), timeout=self._timeout_s * 2)
