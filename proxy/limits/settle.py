"""Settles of many requests share one Redis round trip: a pipeline of EVALSHA calls.

Admission must wait for its own answer, but a settle only has to land: under load, the settles that
arrive while one pipeline is in flight go out together in the next, so a request costs about one round
trip (its admit) instead of two. Each caller still awaits its own settle having been sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    import redis.asyncio
    from redis.commands.core import AsyncScript

Call = tuple[list[str], list[Any]]


class SettleBatcher:
    def __init__(
        self,
        client: redis.asyncio.Redis,
        script: AsyncScript,
        *,
        timeout_s: float,
        failures: tuple[type[BaseException], ...],
        on_failure: Callable[[BaseException, float], None],  # (error, time.monotonic() the batch was sent)
        on_success: Callable[[], None] = lambda: None,
    ) -> None:
        self._redis = client
        self._script = script
        self._timeout_s = timeout_s
        self._failures = failures
        self._on_failure = on_failure
        self._on_success = on_success
        self._queue: list[tuple[Call, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def settle(self, keys: list[str], args: list[Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(((keys, args), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)  # a cancelled caller must not cancel the others' batch

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._timeout_s):
                    await self._send([call for call, _ in batch])
                self._on_success()
            except self._failures as exc:
                self._on_failure(exc, started)  # slots and reservations then expire with the in-flight TTL
            finally:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _send(self, calls: list[Call]) -> None:
        results = await self._pipeline(calls)
        missing = [call for call, result in zip(calls, results, strict=True) if isinstance(result, NoScriptError)]
        if missing:  # Redis restarted or flushed its script cache: load once, resend only those
            await self._redis.script_load(self._script.script)
            results = await self._pipeline(missing)
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def _pipeline(self, calls: list[Call]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(self._script.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.wait({self._flusher}, timeout=self._timeout_s * 2)
