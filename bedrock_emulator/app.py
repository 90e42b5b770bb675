"""Raw ASGI Bedrock Runtime emulator: Converse / ConverseStream over real HTTP and event-stream framing.

Raw ASGI rather than Starlette because load tests push hundreds of concurrent streams through it and
it must stay far cheaper than the gateway it is measuring.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

import orjson

from bedrock_emulator.directives import DirectiveError, Directives, parse_directives
from bedrock_emulator.events import converse_body, frame_event, frame_exception, stream_events
from bedrock_emulator.reply import build_reply, last_user_text
from bedrock_emulator.sigv4 import signature_matches
from bedrock_emulator.validation import RequestInvalid, validate_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Header = tuple[bytes, bytes]

_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_OPERATIONS = {"converse": "converse", "converse-stream": "converse_stream"}


class EmulatedError(Exception):
    def __init__(self, name: str, status: int, message: str) -> None:
        super().__init__(message)
        self.name, self.status, self.message = name, status, message


class BedrockEmulator:
    """The ASGI app; ``calls``/``last_request`` are what ``/_emulator/*`` exposes."""

    def __init__(self, *, verify_sigv4: dict[str, str] | None = None) -> None:
        self.verify_sigv4 = verify_sigv4
        self.reset()

    def reset(self) -> None:
        self.calls = {"converse": 0, "converse_stream": 0}
        self.disconnects = 0
        self.last_request: dict[str, Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        parts = raw_path.split("/")
        if len(parts) == 4 and parts[1] == "model" and parts[3] in _OPERATIONS and scope["method"] == "POST":
            await self._model_call(scope, receive, send, unquote(parts[2]), _OPERATIONS[parts[3]], raw_path)
        else:
            await self._inspection(scope, send, raw_path)

    async def _inspection(self, scope: Scope, send: Send, path: str) -> None:
        method = scope["method"]
        if method == "GET" and path == "/_emulator/calls":
            total = self.calls["converse"] + self.calls["converse_stream"]
            await _json(send, 200, {**self.calls, "total": total, "disconnects": self.disconnects})
        elif method == "POST" and path == "/_emulator/reset":
            self.reset()
            await _json(send, 200, {"ok": True})
        elif method == "GET" and path == "/_emulator/last_request":
            await _json(send, 200, self.last_request or {})
        else:
            await _error(send, EmulatedError("UnknownOperationException", 404, f"No route: {method} {path}"))

    async def _model_call(
        self, scope: Scope, receive: Receive, send: Send, model_id: str, operation: str, raw_path: str
    ) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw = await _read_body(receive)
        try:
            self._authenticate(headers, raw_path, raw)
            self.calls[operation] += 1
            body = _parse_body(raw)
            self.last_request = _describe(operation, model_id, body, headers)
            _validate(body)
            found = _directives(body)
            if found.delay_ms:
                await asyncio.sleep(found.delay_ms / 1000)
            if found.error is not None:
                name, status = found.error
                raise EmulatedError(name, status, f"Emulated {name} (EMULATOR:error directive).")
        except EmulatedError as exc:
            await _error(send, exc)
            return
        reply = build_reply(body, found)
        latency = 10 + found.delay_ms
        if operation == "converse":
            await _json(send, 200, converse_body(reply, latency))
        else:
            await self._stream(send, receive, stream_events(reply, latency), found)

    def _authenticate(self, headers: dict[str, str], raw_path: str, body: bytes) -> None:
        auth = headers.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or "x-amz-date" not in headers:
            raise EmulatedError(
                "UnrecognizedClientException", 403, "The security token included in the request is invalid."
            )
        if self.verify_sigv4 is not None and not signature_matches(
            secrets=self.verify_sigv4, method="POST", host=headers.get("host", ""), raw_path=raw_path,
            headers=headers, body=body,
        ):
            raise EmulatedError(
                "InvalidSignatureException", 403,
                "The request signature we calculated does not match the signature you provided.",
            )

    async def _stream(self, send: Send, receive: Receive, events: list, found: Directives) -> None:
        disconnected = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, disconnected))
        headers = _headers(b"application/vnd.amazon.eventstream")
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            for sequence, (event_type, payload) in enumerate(events):
                if found.stream_error_after and sequence == found.stream_error_after[0]:
                    name = found.stream_error_after[1]
                    frame = frame_exception(name, f"Emulated {name}.")
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                    break
                if found.truncate_after is not None and sequence == found.truncate_after:
                    break
                if sequence and found.chunk_delay_ms:
                    await _wait(disconnected, found.chunk_delay_ms / 1000)
                if disconnected.is_set():
                    self.disconnects += 1
                    return
                frame = frame_event(event_type, payload, sequence)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()


def _directives(body: dict) -> Directives:
    try:
        return parse_directives(last_user_text(body)[0])
    except DirectiveError as exc:
        raise EmulatedError("ValidationException", 400, str(exc)) from None


def _parse_body(raw: bytes) -> Any:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise EmulatedError("SerializationException", 400, "The request body is not valid JSON.") from None
    return body


def _validate(body: Any) -> None:
    try:
        validate_request(body)
    except RequestInvalid as exc:
        raise EmulatedError("ValidationException", 400, str(exc)) from None


def _describe(operation: str, model_id: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "operation": operation,
        "modelId": model_id,
        "body": body,
        "headers": {
            "authorization": headers.get("authorization", "").split(" ", 1)[0] or None,
            "signed": headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "),
            "x-amz-date": headers.get("x-amz-date"),
            "x-amz-security-token": "x-amz-security-token" in headers,
            "content-type": headers.get("content-type"),
            "accept": headers.get("accept"),
            "user-agent": headers.get("user-agent"),
        },
    }


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    disconnected.set()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` but wake as soon as ``event`` is set (a client disconnect)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


def _headers(content_type: bytes, extra: list[Header] | None = None) -> list[Header]:
    return [(b"content-type", content_type), (b"x-amzn-requestid", b"emulator-0000"), *(extra or [])]


async def _json(send: Send, status: int, payload: Any, extra: list[Header] | None = None) -> None:
    body = orjson.dumps(payload)
    headers = _headers(b"application/json", [(b"content-length", str(len(body)).encode()), *(extra or [])])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, exc: EmulatedError) -> None:
    # AWS REST-JSON errors: the code travels in x-amzn-ErrorType, the text in {"message"}.
    error_type = f"{exc.name}:{_ERROR_NAMESPACE}".encode()
    await _json(send, exc.status, {"message": exc.message}, [(b"x-amzn-errortype", error_type)])


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(*, verify_sigv4: dict[str, str] | None = None) -> ASGIApp:
    """The emulator as an ASGI app; pass ``verify_sigv4={access_key: secret}`` to check signatures."""
    return BedrockEmulator(verify_sigv4=verify_sigv4)
