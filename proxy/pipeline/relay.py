"""Streaming a call: a provider's chunks -> OpenAI SSE frames, with the books closed on every exit.

The HTTP status is held until the upstream's first event (``Provider.chat_stream`` returns only then),
so failures before any content are real 4xx/5xx responses the SDK retries; later failures become an
in-stream error event. Every path through ``relay`` ends in ``Books.close`` exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

from proxy.errors import GatewayError, InternalError, ShuttingDown
from proxy.pipeline.books import Books
from proxy.pipeline.call import ChatCall
from proxy.pipeline.drain import Drain
from proxy.pipeline.estimates import estimated_usage
from proxy.pipeline.frames import DONE, KEEPALIVE, encode_chunk, encode_error
from proxy.providers.base import ChatStream

log = logging.getLogger("llm_gateway.chat")


class Framing(Protocol):
    """How one client API frames a stream (proxy/pipeline/frames.py): OpenAI's chunks, Anthropic's events."""

    keepalive: bytes

    def frame(self, call: ChatCall, stream: ChatStream, item: Any) -> bytes: ...
    def chars(self, item: Any) -> int: ...  # generated characters in it: the estimate if usage never comes
    def error(self, error: GatewayError) -> bytes: ...
    def end(self) -> bytes: ...  # after the last item (OpenAI's [DONE]; nothing for Anthropic)


class OpenAIChunks:
    keepalive = KEEPALIVE

    def frame(self, call: ChatCall, stream: ChatStream, item: Any) -> bytes:
        return encode_chunk(_final(call, stream, item))

    def chars(self, item: Any) -> int:
        return _delta_chars(item)

    def error(self, error: GatewayError) -> bytes:
        return encode_error(error.body())

    def end(self) -> bytes:
        return DONE


OPENAI = OpenAIChunks()


async def relay(books: Books, call: ChatCall, stream: ChatStream, keepalive_s: float,
                drain: Drain | None = None, framing: Framing = OPENAI) -> AsyncIterator[bytes]:
    status, generated_chars = "client_disconnected", 0
    task = drain.track() if drain is not None else None
    try:
        async for items in with_keepalive(stream, keepalive_s):
            if items is None:
                yield framing.keepalive
                continue
            tap = call.stream_tap
            if tap is not None:
                tap.extend(items)  # as the upstream sent them, before gateway_metadata (the cache's copy)
            for item in items:
                generated_chars += framing.chars(item)  # the estimate if the upstream never reports usage
                if call.first_token is None and generated_chars:
                    call.first_token = time.perf_counter()
                yield framing.frame(call, stream, item)
        call.upstream_done = time.perf_counter()
        tail = stream.finish()
        if call.stream_tap is not None:
            call.stream_tap.extend(tail)
        for item in tail:
            yield framing.frame(call, stream, item)
        status = "ok"
        if end := framing.end():
            yield end
    except GatewayError as exc:
        status = "upstream_error"
        yield framing.error(exc)
        if end := framing.end():
            yield end
    except asyncio.CancelledError as exc:
        if drain is None or not drain.is_shutdown(exc):
            raise  # the client went away: the finally books it as client_disconnected
        if task is not None:
            task.uncancel()  # the drain deadline: end this stream in the client's envelope
        status = "shutdown"
        yield framing.error(ShuttingDown())
        if end := framing.end():
            yield end
    except Exception:  # our bug, after the first byte: say so in-stream, keep the details in the log
        status = "error"
        log.exception("stream relay failed request_id=%s", call.request_id)
        yield framing.error(InternalError(f"The server had an error (request id {call.request_id})."))
        if end := framing.end():
            yield end
    finally:
        # Books first: the client may disconnect (cancelling us) at any await from here on.
        if drain is not None:
            drain.done(task)
        try:
            if stream.usage is not None:
                call.usage = stream.usage
            else:
                call.usage, call.estimated = estimated_usage(call.prepared.prompt_estimate, generated_chars), True
            await books.close(call, status=status, streaming=True)
            if status == "ok" and call.on_streamed is not None:
                _background(call.on_streamed())  # the response is complete: nothing to wait for here
        finally:
            await stream.aclose()


_BACKGROUND: set[asyncio.Task[None]] = set()


def _background(work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)  # a reference until it ends: the loop holds tasks only weakly
    task.add_done_callback(_BACKGROUND.discard)


async def abandon(books: Books, call: ChatCall, stream: ChatStream) -> None:
    """The client left before the first frame (e.g. it timed out waiting for the upstream's first event)."""
    try:
        call.usage, call.estimated = estimated_usage(call.prepared.prompt_estimate, 0), True
        await books.close(call, status="client_disconnected", streaming=True)
    finally:
        await stream.aclose()


def _final(call: ChatCall, stream: ChatStream, chunk: dict[str, Any]) -> dict[str, Any]:
    """The finish and usage chunks carry gateway_metadata once the usage is known (priced once per call)."""
    if stream.usage is None:
        return chunk
    choices = chunk.get("choices")
    if choices and choices[0].get("finish_reason") is None:
        return chunk
    call.usage = stream.usage
    return {**chunk, "gateway_metadata": call.metadata()}


def _delta_chars(chunk: dict[str, Any]) -> int:
    total = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        total += len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
        for tool in delta.get("tool_calls") or ():
            total += len((tool.get("function") or {}).get("arguments") or "")
    return total


async def with_keepalive(stream: ChatStream, interval: float) -> AsyncIterator[list[dict[str, Any]] | None]:
    """Yields the stream's items, and None whenever the upstream is silent for ``interval`` seconds.

    Long thinking pauses otherwise look dead to proxies and load balancers, which close idle streams.
    """
    iterator = stream.__aiter__()
    if interval <= 0:
        async for item in iterator:
            yield item
        return
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if pending is not None:
            pending.cancel()
