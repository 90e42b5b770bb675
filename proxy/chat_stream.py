"""Streaming chat completions: ConverseStream events -> OpenAI SSE chunks, with exact accounting.

The HTTP status is held until Bedrock's first event (``converse_stream`` returns only then), so failures
before any content are real 4xx/5xx responses the SDK retries; later failures become an in-stream error
event. Every path through ``relay`` ends in ``accounting.finish`` exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from proxy import accounting, pricing
from proxy.accounting import ChatCall
from proxy.catalog import PROVIDER
from proxy.errors import GatewayError, InternalError, UpstreamError
from proxy.services import Services
from proxy.sse import DONE, KEEPALIVE, SSEResponse, encode_chunk, encode_error
from translators import ConverseStreamTranslator, StreamIncomplete

log = logging.getLogger("llm_gateway.chat")


async def open_stream(services: Services, call: ChatCall) -> SSEResponse:
    try:
        upstream = await services.bedrock.converse_stream(
            call.entry.bedrock_id, call.conv.body, request_id=call.request_id
        )
    except GatewayError:
        await accounting.finish(services, call, bedrock_usage=None, status="upstream_error", streaming=True)
        raise
    headers = {
        **call.admission.headers,
        "x-gateway-team-id": call.principal.team_id,
        "x-gateway-provider": PROVIDER,
        "x-gateway-overhead-ms": str(call.overhead_ms()),
    }
    frames = relay(services, call, upstream, services.settings.stream_keepalive_s)
    return SSEResponse(frames, headers=headers, on_abandon=lambda: abandon(services, call, upstream))


async def abandon(services: Services, call: ChatCall, upstream: Any) -> None:
    """The client left before the first frame (e.g. it timed out waiting for Bedrock's first event)."""
    try:
        await accounting.finish(services, call, bedrock_usage=accounting.estimated_usage(call, 0),
                                status="client_disconnected", streaming=True, estimated=True)
    finally:
        await upstream.aclose()


async def relay(services: Services, call: ChatCall, upstream: Any, keepalive_s: float) -> AsyncIterator[bytes]:
    translator = ConverseStreamTranslator(
        call.conv, model=call.model, completion_id=call.completion_id, created=call.created
    )
    status, generated_chars = "client_disconnected", 0
    held: dict[str, Any] | None = None  # the finish_reason chunk waits for usage so it can carry the cost
    try:
        async for event in with_keepalive(upstream, keepalive_s):
            if event is None:
                yield KEEPALIVE
                continue
            for chunk in translator.feed(event):
                generated_chars += _delta_chars(chunk)
                if call.first_token is None and generated_chars:
                    call.first_token = time.perf_counter()
                if held is None and _is_finish(chunk) and translator.usage is None:
                    held = chunk
                    continue
                if held is not None and translator.usage is not None:
                    yield encode_chunk(_with_cost(services, call, translator, held))
                    held = None
                yield encode_chunk(_with_cost(services, call, translator, chunk))
            if held is not None and translator.usage is not None:
                yield encode_chunk(_with_cost(services, call, translator, held))
                held = None
        call.upstream_done = time.perf_counter()
        tail = translator.finish()
        if held is not None:
            tail.insert(0, held)
        for chunk in tail:
            yield encode_chunk(_with_cost(services, call, translator, chunk))
        status = "ok"
        yield DONE
    except (GatewayError, StreamIncomplete) as exc:
        status = "upstream_error"
        error = exc if isinstance(exc, GatewayError) else UpstreamError(
            "The upstream stream ended before the model finished its answer.", code="upstream_incomplete"
        )
        yield encode_error(error.body())
        yield DONE
    except Exception:  # our bug, after the first byte: say so in-stream, keep the details in the log
        status = "error"
        log.exception("stream relay failed request_id=%s", call.request_id)
        yield encode_error(InternalError(f"The server had an error (request id {call.request_id}).").body())
        yield DONE
    finally:
        # Books first: the client may disconnect (cancelling us) at any await from here on.
        usage = translator.usage
        try:
            await accounting.finish(
                services, call, streaming=True, status=status,
                bedrock_usage=usage if usage is not None else accounting.estimated_usage(call, generated_chars),
                estimated=usage is None,
            )
        finally:
            await upstream.aclose()


def _is_finish(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices") or ()
    return bool(choices) and choices[0].get("finish_reason") is not None


def _delta_chars(chunk: dict[str, Any]) -> int:
    total = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        total += len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
        for call in delta.get("tool_calls") or ():
            total += len((call.get("function") or {}).get("arguments") or "")
    return total


def _with_cost(
    services: Services, call: ChatCall, translator: ConverseStreamTranslator, chunk: dict[str, Any]
) -> dict[str, Any]:
    """Final chunks (finish_reason, usage) carry gateway_metadata with the priced cost."""
    if translator.usage is None or not (_is_finish(chunk) or ("usage" in chunk and not chunk.get("choices"))):
        return chunk
    cost = pricing.cost(call.entry, translator.usage)
    return {**chunk, "gateway_metadata": accounting.gateway_metadata(call, cost)}


async def with_keepalive(upstream: Any, interval: float) -> AsyncIterator[dict[str, Any] | None]:
    """Yields upstream events, and None whenever the upstream is silent for ``interval`` seconds.

    Long thinking pauses otherwise look dead to proxies and load balancers, which close idle streams.
    """
    iterator = upstream.__aiter__()
    if interval <= 0:
        async for event in iterator:
            yield event
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
                event = finished.result()
            except StopAsyncIteration:
                return
            yield event
    finally:
        if pending is not None:
            pending.cancel()
