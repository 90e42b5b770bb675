"""Raw-ASGI replies in OpenAI's and Azure's shapes: JSON bodies, the two error envelopes, dropped connections.

The generic plumbing (body reads, disconnect watching, lifespan) is the Bedrock emulator's; only what the
OpenAI wire format changes lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from bedrock_emulator.asgi import Header, Receive, Send, watch_disconnect

REQUEST_ID = b"req_emulator0000"
# (type, code) OpenAI puts in the error envelope for each status; other 4xx are invalid_request_error and
# every 5xx is server_error (https://platform.openai.com/docs/guides/error-codes).
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(eq=False)   # exceptions compare and hash by identity
class OpenAIError(Exception):
    """An error reply; ``send_error`` renders it in OpenAI's or Azure's envelope depending on the route."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None
    type: str | None = None
    headers: list[Header] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)


def invalid(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def openai_error_body(exc: OpenAIError) -> dict[str, Any]:
    kind, code = _ERROR_KINDS.get(exc.status, ("server_error" if exc.status >= 500 else "invalid_request_error", None))
    return {"error": {"message": exc.message, "type": exc.type or kind, "param": exc.param, "code": exc.code or code}}


def azure_error_body(exc: OpenAIError) -> dict[str, Any]:
    # Azure's gateway errors carry the status (or a named code) as a string and no type/param.
    return {"error": {"code": exc.code or str(exc.status), "message": exc.message}}


def response_headers(content_type: bytes, extra: list[Header] | None = None) -> list[Header]:
    return [(b"content-type", content_type), (b"x-request-id", REQUEST_ID), *(extra or [])]


async def send_json(send: Send, status: int, payload: Any, extra: list[Header] | None = None) -> None:
    body = orjson.dumps(payload)
    headers = response_headers(b"application/json", [(b"content-length", str(len(body)).encode()), *(extra or [])])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, exc: OpenAIError, *, azure: bool, extra: list[Header] | None = None) -> None:
    body = azure_error_body(exc) if azure else openai_error_body(exc)
    await send_json(send, exc.status, body, [*exc.headers, *(extra or [])])


async def abort_connection(send: Send, receive: Receive) -> None:
    """Close the TCP connection without (the rest of) a response, as a crashed or cut-off upstream does.

    ASGI has no message for this, so reach uvicorn's transport through its bound ``send``; under any other
    server (httpx's ASGITransport in unit tests) raise instead, which such servers report as a failure.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("emulated connection drop")
    transport.close()
    # Wait for uvicorn to see the close, so it does not try to answer 500 on a dead socket.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watch_disconnect(receive, asyncio.Event()), timeout=5)
