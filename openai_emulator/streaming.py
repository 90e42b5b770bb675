"""Chunks on the wire as server-sent events (``data: {...}\\n\\n`` ... ``data: [DONE]\\n\\n``), with the stream faults.

``stream_error_after=N`` drops the TCP connection after N chunks, as a crashed upstream does;
``N:event`` sends OpenAI's in-band ``data: {"error": ...}`` instead (the SDK raises APIError on it);
``truncate_after=N`` ends the body cleanly after N chunks with no ``[DONE]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from bedrock_emulator.asgi import Header, Receive, Send, wait_unless, watch_disconnect
from openai_emulator.asgi import abort_connection, response_headers
from openai_emulator.directives import OpenAIDirectives

DONE = b"data: [DONE]\n\n"
STREAM_ERROR = {"error": {"message": "Emulated error in the middle of the stream.", "type": "server_error",
                          "param": None, "code": None}}


def sse(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def stream_chunks(
    send: Send, receive: Receive, chunks: list[dict[str, Any]], found: OpenAIDirectives, extra: list[Header]
) -> int:
    """Send ``chunks`` as SSE, honouring the stream directives; returns 1 if the client went away, else 0."""
    disconnected = asyncio.Event()
    watcher = asyncio.create_task(watch_disconnect(receive, disconnected))
    headers = response_headers(b"text/event-stream; charset=utf-8", [(b"cache-control", b"no-cache"), *extra])
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    try:
        # [DONE] is one more position, so N = len(chunks) cuts the stream right before it.
        for sequence, frame in enumerate([*map(sse, chunks), DONE]):
            if found.stream_error_after is not None and sequence == found.stream_error_after[0]:
                if not found.stream_error_event:
                    watcher.cancel()
                    await abort_connection(send, receive)
                    return 0
                await _body(send, sse(STREAM_ERROR))
                break
            if found.truncate_after is not None and sequence == found.truncate_after:
                break
            if sequence and found.chunk_delay_ms:
                await wait_unless(disconnected, found.chunk_delay_ms / 1000)
            if disconnected.is_set():
                return 1
            await _body(send, frame)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return 0
    finally:
        watcher.cancel()


async def _body(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})
