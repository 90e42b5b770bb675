"""A lean ASGI response that relays server-sent events (the frames come from proxy/pipeline/frames.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from starlette.types import Receive, Scope, Send


class SSEResponse:
    """Relays an async iterator of SSE frames with a plain send loop.

    Starlette's StreamingResponse costs an anyio task group per stream and showed 2-4x worse TTFT tails
    under load (benchmarks/bench_gateway.py); this keeps one listener task for ``http.disconnect`` that
    cancels the relay, so a client that goes away cancels the upstream read at once.
    """

    def __init__(
        self, frames: AsyncIterator[bytes], *, headers: Mapping[str, str],
        on_abandon: Callable[[], Awaitable[None]] | None = None,
        media_type: str = "text/event-stream; charset=utf-8",  # the Bedrock pass-through relays event-stream
    ) -> None:
        self.frames = frames
        # Closing a generator that never started runs none of its cleanup: if the client is gone before
        # the first frame is asked for, on_abandon does that cleanup instead.
        self.on_abandon = on_abandon
        self.iterating = False
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.headers += [
            (b"content-type", media_type.encode("latin-1")),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # stop nginx-style proxies from buffering the stream
        ]
        self.status_code = 200
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relay = asyncio.current_task()
        assert relay is not None

        async def watch_disconnect() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.disconnected = True
                    relay.cancel()
                    return

        watcher = asyncio.get_running_loop().create_task(watch_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            self.iterating = True  # no await before the first __anext__: its try/finally is entered
            async for frame in self.frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            # The client left: closing the generator runs its cleanup (upstream abort, usage record).
            uncancel = getattr(relay, "uncancel", None)
            if uncancel is not None:
                uncancel()
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await self.frames.aclose()  # type: ignore[attr-defined]
            if not self.iterating and self.on_abandon is not None:
                with contextlib.suppress(BaseException):
                    await self.on_abandon()
