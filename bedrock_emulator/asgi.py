"""Raw-ASGI plumbing shared by every emulated operation: AWS REST-JSON errors, JSON replies, body reads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Header = tuple[bytes, bytes]

ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
REQUEST_ID = b"emulator-0000"


class EmulatedError(Exception):
    """An AWS error reply: ``name`` travels in ``x-amzn-ErrorType``, ``message`` in the JSON body."""

    def __init__(self, name: str, status: int, message: str) -> None:
        super().__init__(message)
        self.name, self.status, self.message = name, status, message


def validation_error(message: str) -> EmulatedError:
    return EmulatedError("ValidationException", 400, message)


def response_headers(content_type: bytes, extra: list[Header] | None = None) -> list[Header]:
    return [(b"content-type", content_type), (b"x-amzn-requestid", REQUEST_ID), *(extra or [])]


async def send_json(send: Send, status: int, payload: Any, extra: list[Header] | None = None) -> None:
    body = orjson.dumps(payload)
    headers = response_headers(b"application/json", [(b"content-length", str(len(body)).encode()), *(extra or [])])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, exc: EmulatedError) -> None:
    # AWS REST-JSON errors: the code travels in x-amzn-ErrorType, the text in {"message"}.
    error_type = f"{exc.name}:{ERROR_NAMESPACE}".encode()
    await send_json(send, exc.status, {"message": exc.message}, [(b"x-amzn-errortype", error_type)])


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    disconnected.set()


async def wait_unless(event: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` but wake as soon as ``event`` is set (a client disconnect)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
