"""Raw ASGI Bedrock Runtime emulator over real HTTP and event-stream framing.

Operations: Converse / ConverseStream, InvokeModel / InvokeModelWithResponseStream (Anthropic Messages
bodies) and CountTokens; ``/_emulator/faults`` queues failures independent of the request text. Raw
ASGI rather than Starlette because load tests push hundreds of concurrent streams through it and it must
stay far cheaper than the gateway it is measuring.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import unquote

import orjson

from bedrock_emulator.asgi import (
    ASGIApp,
    EmulatedError,
    Header,
    Receive,
    Scope,
    Send,
    lifespan,
    read_body,
    response_headers,
    send_error,
    send_json,
    validation_error,
    wait_unless,
    watch_disconnect,
)
from bedrock_emulator.directives import DEFAULT_STATUS, Directives
from bedrock_emulator.events import Event, frame_event, frame_exception
from bedrock_emulator.invoke import describe_count_tokens, prepare_count_tokens, prepare_invoke, prepare_invoke_stream
from bedrock_emulator.operations import JsonResult, Prepare, prepare_converse, prepare_converse_stream
from bedrock_emulator.sigv4 import signature_matches

# URL suffix -> (operation name as counted and reported, how to prepare its answer)
_OPERATIONS: dict[str, tuple[str, Prepare]] = {
    "converse": ("converse", prepare_converse),
    "converse-stream": ("converse_stream", prepare_converse_stream),
    "invoke": ("invoke_model", prepare_invoke),
    "invoke-with-response-stream": ("invoke_model_with_response_stream", prepare_invoke_stream),
    "count-tokens": ("count_tokens", prepare_count_tokens),
}
# Always listed by /_emulator/calls; the other operations appear once called.
_ALWAYS_COUNTED = ("converse", "converse_stream")
# Operations whose bodies are model-native JSON: Bedrock answers a body that is not JSON with a ValidationException.
_NATIVE_BODY = frozenset({"invoke_model", "invoke_model_with_response_stream"})
_FAULT_KINDS = ("error", "disconnect", "stall")


@dataclass
class Fault:
    """A failure queued by ``POST /_emulator/faults``: directives live in the prompt, so this is how a test
    fails one model (or one emulator) while another given the same prompt answers."""

    error: str = "ThrottlingException"
    status: int | None = None    # default: Bedrock's own status for ``error`` (DEFAULT_STATUS)
    count: int = 1               # -1: until DELETE /_emulator/faults or reset
    model: str | None = None     # the modelId in the URL (decoded), when only one model should fail
    operation: str | None = None  # converse | converse_stream | invoke_model | ... as /_emulator/calls names them
    delay_ms: int = 0            # before the error, the dropped connection or (stall) the normal answer
    kind: Literal["error", "disconnect", "stall"] = "error"
    message: str | None = None


class BedrockEmulator:
    """The ASGI app; ``calls``/``last_request`` are what ``/_emulator/*`` exposes."""

    def __init__(self, *, verify_sigv4: dict[str, str] | None = None) -> None:
        self.verify_sigv4 = verify_sigv4
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, int] = dict.fromkeys(_ALWAYS_COUNTED, 0)
        self.disconnects = 0
        self.last_request: dict[str, Any] | None = None
        self.faults: list[Fault] = []
        self.faults_served = 0
        self.faults_used = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        parts = raw_path.split("/")
        if len(parts) == 4 and parts[1] == "model" and parts[3] in _OPERATIONS and scope["method"] == "POST":
            await self._model_call(scope, receive, send, unquote(parts[2]), parts[3], raw_path)
        else:
            await self._inspection(scope, receive, send, raw_path)

    async def _inspection(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        method = scope["method"]
        if method == "GET" and path == "/_emulator/calls":
            counts = {**self.calls, "total": sum(self.calls.values()), "disconnects": self.disconnects}
            if self.faults_used:   # listed once faults were queued since the last reset, like invoke_model
                counts["faults_served"] = self.faults_served
            await send_json(send, 200, counts)
        elif method == "POST" and path == "/_emulator/reset":
            self.reset()
            await send_json(send, 200, {"ok": True})
        elif method == "GET" and path == "/_emulator/last_request":
            await send_json(send, 200, self.last_request or {})
        elif path == "/_emulator/faults" and method in {"GET", "POST", "DELETE"}:
            await self._fault_endpoint(method, receive, send)
        else:
            await send_error(send, EmulatedError("UnknownOperationException", 404, f"No route: {method} {path}"))

    async def _fault_endpoint(self, method: str, receive: Receive, send: Send) -> None:
        """POST queues one fault (a JSON object) or several (a list); DELETE clears; all answer the queue."""
        if method == "POST":
            try:
                payload = orjson.loads(await read_body(receive))
                items = payload if isinstance(payload, list) else [payload]
                self.faults.extend([_parse_fault(item) for item in items])   # all or nothing
                self.faults_used = True
            except orjson.JSONDecodeError:
                await send_error(send, EmulatedError("SerializationException", 400, "The fault is not valid JSON."))
                return
            except EmulatedError as exc:
                await send_error(send, exc)
                return
        elif method == "DELETE":
            self.faults.clear()
        await send_json(send, 200, {"faults": [asdict(fault) for fault in self.faults]})

    def _take_fault(self, model_id: str, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.model in (None, model_id) and fault.operation in (None, operation):
                if fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                return fault
        return None

    async def _serve_fault(self, fault: Fault, send: Send, receive: Receive) -> bool:
        """Apply a queued fault; True when it ended the call (a dropped connection)."""
        self.faults_served += 1
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.kind == "error":
            message = fault.message or f"Emulated {fault.error} (queued fault)."
            raise EmulatedError(fault.error, fault.status or DEFAULT_STATUS.get(fault.error, 400), message)
        if fault.kind == "disconnect":
            await _abort_connection(send, receive)
            return True
        return False   # a stall: the normal answer, late

    async def _model_call(
        self, scope: Scope, receive: Receive, send: Send, model_id: str, suffix: str, raw_path: str
    ) -> None:
        operation, prepare = _OPERATIONS[suffix]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw = await read_body(receive)
        try:
            self._authenticate(headers, raw_path, raw)
            self.calls[operation] = self.calls.get(operation, 0) + 1
            body = _parse_body(raw, operation)
            self.last_request = _describe(operation, model_id, body, headers)
            fault = self._take_fault(model_id, operation)
            if fault is not None and await self._serve_fault(fault, send, receive):
                return
            call = prepare(model_id, body)
            found = call.directives
            if found.delay_ms:
                await asyncio.sleep(found.delay_ms / 1000)
            if found.error is not None:
                name, status = found.error
                raise EmulatedError(name, status, f"Emulated {name} (EMULATOR:error directive).")
            result = call.respond(10 + found.delay_ms)
        except EmulatedError as exc:
            await send_error(send, exc)
            return
        if isinstance(result, JsonResult):
            await send_json(send, 200, result.payload, result.headers)
        else:
            await self._stream(send, receive, result.events, found, result.headers)

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

    async def _stream(
        self, send: Send, receive: Receive, events: list[Event], found: Directives, extra: list[Header]
    ) -> None:
        disconnected = asyncio.Event()
        watcher = asyncio.create_task(watch_disconnect(receive, disconnected))
        headers = response_headers(b"application/vnd.amazon.eventstream", extra)
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
                    await wait_unless(disconnected, found.chunk_delay_ms / 1000)
                if disconnected.is_set():
                    self.disconnects += 1
                    return
                frame = frame_event(event_type, payload, sequence)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()


def _parse_fault(item: Any) -> Fault:
    if not isinstance(item, dict) or set(item) - set(Fault.__dataclass_fields__):
        raise validation_error(f"a fault is an object with fields {', '.join(Fault.__dataclass_fields__)}")
    fault = Fault(**item)
    if fault.kind not in _FAULT_KINDS:
        raise validation_error(f"kind must be one of {', '.join(_FAULT_KINDS)}")
    if fault.status is not None and not (isinstance(fault.status, int) and 400 <= fault.status <= 599):
        raise validation_error("status must be 400-599")
    if not isinstance(fault.count, int) or fault.count == 0 or fault.count < -1:
        raise validation_error("count is a positive integer, or -1 for until cleared")
    if not isinstance(fault.delay_ms, int) or fault.delay_ms < 0:
        raise validation_error("delay_ms is a non-negative integer")
    if fault.operation is not None and fault.operation not in {name for name, _ in _OPERATIONS.values()}:
        raise validation_error(f"unknown operation {fault.operation!r}")
    return fault


async def _abort_connection(send: Send, receive: Receive) -> None:
    """Close the TCP connection with no response, as a crashed upstream does (the OpenAI emulator's twin).

    ASGI has no message for this, so reach uvicorn's transport through its bound ``send``; under any other
    server raise instead, which such servers report as a failure.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("emulated connection drop")
    transport.close()
    # Wait for uvicorn to see the close, so it does not try to answer 500 on a dead socket.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watch_disconnect(receive, asyncio.Event()), timeout=5)


def _parse_body(raw: bytes, operation: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        if operation in _NATIVE_BODY:
            raise validation_error(
                "Malformed input request: the body is not valid JSON, please reformat your input and try again."
            ) from None
        raise EmulatedError("SerializationException", 400, "The request body is not valid JSON.") from None


def _describe(operation: str, model_id: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    described = {
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
            # InvokeModel's own request headers (X-Amzn-Bedrock-Accept, -Trace, -GuardrailIdentifier, ...).
            **{name: value for name, value in headers.items() if name.startswith("x-amzn-bedrock-")},
        },
    }
    if operation == "count_tokens":
        described["invokeBody"] = describe_count_tokens(body)
    return described


def create_app(*, verify_sigv4: dict[str, str] | None = None) -> ASGIApp:
    """The emulator as an ASGI app; pass ``verify_sigv4={access_key: secret}`` to check signatures."""
    return BedrockEmulator(verify_sigv4=verify_sigv4)
