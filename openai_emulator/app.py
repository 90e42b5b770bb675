"""Raw ASGI OpenAI / Azure OpenAI emulator: chat completions (JSON and SSE), embeddings, models.

Raw ASGI like the Bedrock emulator, for the same reason: benchmarks push hundreds of concurrent streams
through it, and it must stay far cheaper than the gateway it measures. Bodies are deterministic (fixed
``created``, ids hashed from the request) so tests can predict them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from bedrock_emulator.asgi import ASGIApp, Header, Receive, Scope, Send, lifespan, read_body
from bedrock_emulator.directives import DirectiveError
from openai_emulator.asgi import OpenAIError, abort_connection, invalid, send_error, send_json
from openai_emulator.azure import UNAUTHORIZED, annotate_chunks, annotate_completion, check_api_version
from openai_emulator.chat import answer_chat, conversation_tail, count_images
from openai_emulator.directives import OpenAIDirectives, parse_openai_directives
from openai_emulator.embeddings import embeddings_body
from openai_emulator.faults import Fault, FaultQueue, parse_fault
from openai_emulator.inspection import describe_request
from openai_emulator.models import model_object, models_list
from openai_emulator.responses import completion_body, completion_chunks
from openai_emulator.routes import Route, match_route
from openai_emulator.streaming import stream_chunks
from openai_emulator.validation import CHAT_FIELDS, EMBEDDING_FIELDS, require_model, unknown_fields, validate_chat

_COUNTED = ("chat", "chat_stream", "embeddings")
_KEPT_REQUESTS = 50
_AZURE_HEADERS: list[Header] = [(b"apim-request-id", b"emulator-0000")]
_OPENAI_HEADERS: list[Header] = [(b"openai-version", b"2020-10-01"), (b"openai-processing-ms", b"10")]


class OpenAIEmulator:
    """The ASGI app; ``calls``, ``requests`` and ``faults`` are what ``/_emulator/*`` shows and changes."""

    def __init__(
        self, *, api_keys: Iterable[str] = (), azure_only: bool = False, deployments: Mapping[str, str] | None = None
    ) -> None:
        self.api_keys = tuple(key.encode() for key in api_keys)
        self.azure_only = azure_only
        self.deployments = dict(deployments or {})
        self.faults = FaultQueue()
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self.faults_served = self.disconnects = self.auth_failures = 0
        self.requests: deque[dict[str, Any]] = deque(maxlen=_KEPT_REQUESTS)
        self.faults.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if path.startswith("/_emulator/"):
            await self._inspection(method, path, receive, send)
            return
        route = match_route(method, path)
        azure = path.startswith("/openai/")
        if route is None or (self.azure_only and not route.azure):
            message = "Resource not found" if azure else f"Invalid URL ({method} {path})"
            await send_error(send, OpenAIError(404, message, code="404" if azure else None), azure=azure)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self._authenticate(route, headers)
            if route.operation == "models":
                await send_json(send, 200, self._models(route), self._headers(route))
            else:
                await self._model_call(route, scope, headers, receive, send)
        except OpenAIError as exc:
            await send_error(send, exc, azure=route.azure, extra=self._headers(route))

    def _authenticate(self, route: Route, headers: dict[str, str]) -> None:
        """Bearer on every route; Azure also takes ``api-key`` (a bearer there stands for an Entra ID token)."""
        if not self.api_keys:
            return
        scheme, _, token = headers.get("authorization", "").partition(" ")
        offered = [token] if scheme.lower() == "bearer" else []
        if route.azure and "api-key" in headers:
            offered.append(headers["api-key"])
        if any(hmac.compare_digest(o.encode(), key) for o in offered for key in self.api_keys):
            return
        self.auth_failures += 1
        if route.azure:
            raise OpenAIError(401, UNAUTHORIZED, code="401")
        if not offered:
            raise OpenAIError(401, "You didn't provide an API key. You need to provide your API key in an "
                                   "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")

    def _models(self, route: Route) -> dict[str, Any]:
        if route.model_id:
            return model_object(route.model_id)
        return models_list(self.deployments.values())

    async def _model_call(
        self, route: Route, scope: Scope, headers: dict[str, str], receive: Receive, send: Send
    ) -> None:
        raw = await read_body(receive)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        check_api_version(route, query)
        body = _parse_body(raw)
        operation = "chat_stream" if route.operation == "chat" and body.get("stream") is True else route.operation
        self.calls[operation] += 1
        model, names = self._model_names(route, body)
        known = CHAT_FIELDS if route.operation == "chat" else EMBEDDING_FIELDS
        images = count_images(body["messages"]) if isinstance(body.get("messages"), list) else 0
        self.requests.append(describe_request(
            route, scope, headers, body, operation=operation, model=model, unknown=unknown_fields(body, known),
            images=images,
        ))
        if model is None:
            model = require_model(body)   # raises: the body names no model
        fault = self.faults.take(names, operation)
        if fault is not None and await self._serve_fault(fault, send, receive):
            return
        if route.operation == "chat":
            await self._chat(route, body, model, raw, send, receive)
        else:
            await self._embeddings(route, body, model, send)

    def _model_names(self, route: Route, body: dict[str, Any]) -> tuple[str | None, set[str]]:
        """(the model the reply names, every name a fault's ``model`` filter may use for this call)."""
        requested = body.get("model") if isinstance(body.get("model"), str) and body.get("model") else None
        if route.deployment is None:
            return requested, {requested} if requested else set()
        # The deployment stands in for the model; the reply names the model deployed under it.
        model = self.deployments.get(route.deployment, route.deployment)
        return model, {route.deployment, model, *([requested] if requested else [])}

    async def _serve_fault(self, fault: Fault, send: Send, receive: Receive) -> bool:
        """Apply a queued fault; True when it ended the call (a dropped connection)."""
        self.faults_served += 1
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.kind == "error":
            raise fault.error()
        if fault.kind == "disconnect":
            await abort_connection(send, receive)
            return True
        return False   # a stall: the normal answer, late

    async def _chat(
        self, route: Route, body: dict[str, Any], model: str, raw: bytes, send: Send, receive: Receive
    ) -> None:
        validate_chat(body)
        found = await _directives(conversation_tail(body["messages"])[0])
        answer = answer_chat(body, found)
        completion_id = "chatcmpl-" + hashlib.sha256(raw).hexdigest()[:24]
        if body.get("stream") is not True:
            payload = completion_body(answer, model=model, completion_id=completion_id)
            await send_json(send, 200, annotate_completion(payload) if route.azure else payload, self._headers(route))
            return
        include_usage = (body.get("stream_options") or {}).get("include_usage") is True
        chunks = completion_chunks(answer, model=model, completion_id=completion_id, include_usage=include_usage)
        self.disconnects += await stream_chunks(
            send, receive, annotate_chunks(chunks) if route.azure else chunks, found, self._headers(route)
        )

    async def _embeddings(self, route: Route, body: dict[str, Any], model: str, send: Send) -> None:
        first = body.get("input")
        first = first[0] if isinstance(first, list) and first else first
        found = await _directives(first if isinstance(first, str) else "")
        payload = embeddings_body(body, model, found.usage[0] if found.usage else None)
        await send_json(send, 200, payload, self._headers(route))

    def _headers(self, route: Route) -> list[Header]:
        return _AZURE_HEADERS if route.azure else _OPENAI_HEADERS

    async def _inspection(self, method: str, path: str, receive: Receive, send: Send) -> None:
        if method == "GET" and path == "/_emulator/calls":
            counts = {**self.calls, "total": sum(self.calls.values())}
            await send_json(send, 200, {**counts, "faults_served": self.faults_served,
                                        "disconnects": self.disconnects, "auth_failures": self.auth_failures})
        elif method == "GET" and path == "/_emulator/last_request":
            await send_json(send, 200, self.requests[-1] if self.requests else {})
        elif method == "GET" and path == "/_emulator/requests":
            await send_json(send, 200, list(self.requests))
        elif method == "POST" and path == "/_emulator/reset":
            self.reset()
            await send_json(send, 200, {"ok": True})
        elif path == "/_emulator/faults" and method in {"GET", "POST", "DELETE"}:
            await self._faults(method, receive, send)
        else:
            await send_error(send, OpenAIError(404, f"No route: {method} {path}"), azure=False)

    async def _faults(self, method: str, receive: Receive, send: Send) -> None:
        try:
            if method == "POST":
                payload = _parse_body(await read_body(receive), allow_list=True)
                # All or nothing: one bad entry in a list queues none of them.
                for fault in [parse_fault(item) for item in (payload if isinstance(payload, list) else [payload])]:
                    self.faults.add(fault)
            elif method == "DELETE":
                self.faults.clear()
        except OpenAIError as exc:
            await send_error(send, exc, azure=False)
            return
        await send_json(send, 200, {"faults": self.faults.describe()})


def _parse_body(raw: bytes, *, allow_list: bool = False) -> Any:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
        ) from None
    if not isinstance(body, dict) and not (allow_list and isinstance(body, list)):
        raise invalid("The request body must be a JSON object.")
    return body


async def _directives(text: str) -> OpenAIDirectives:
    """The directives in ``text``, after their ``delay_ms``; raises the ``error=`` they ask for."""
    try:
        found = parse_openai_directives(text)
    except DirectiveError as exc:
        raise invalid(str(exc), code="emulator_directive") from None
    if found.delay_ms:
        await asyncio.sleep(found.delay_ms / 1000)
    if found.error is not None:
        name, status = found.error
        retry_after = found.retry_after if found.retry_after is not None else (1 if status == 429 else None)
        headers = [(b"retry-after", str(retry_after).encode())] if retry_after is not None else []
        raise OpenAIError(status, f"Emulated {name} (EMULATOR:error directive).", headers=headers)
    return found


def create_app(
    api_keys: Iterable[str] | None = None,
    *,
    azure_only: bool = False,
    azure_deployments: Mapping[str, str] | None = None,
) -> ASGIApp:
    """The emulator as an ASGI app. ``api_keys``: accepted keys (none: no auth); ``azure_only``: answer 404
    on ``/v1/*`` like an Azure resource; ``azure_deployments``: deployment name -> model it serves."""
    return OpenAIEmulator(api_keys=api_keys or (), azure_only=azure_only, deployments=azure_deployments)
