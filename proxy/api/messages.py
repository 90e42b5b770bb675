"""POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API, HTTP only.

Errors are Anthropic's envelope (``{"type": "error", "error": {"type", "message"}}``) with Anthropic's
error types; every response carries ``request-id`` as Anthropic's API does (and x-request-id as ours do).
Any ``anthropic-version`` is accepted: the SDK sends dates newer than 2023-06-01.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from proxy.api.chat import read_json_object, resolve_model
from proxy.api.sse import SSEResponse
from proxy.errors import GatewayError, InvalidRequest
from proxy.pipeline.chat import Reply
from proxy.pipeline.messages import anthropic_error
from proxy.services import Services

Handler = Callable[[Request], Awaitable[Response | SSEResponse]]


def anthropic_envelope(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response | SSEResponse:
        try:
            return await handler(request)
        except GatewayError as exc:
            services = getattr(request.app.state, "services", None)
            if services is not None:
                services.metrics.count_error(exc.status, exc.code)
            headers = {**exc.headers, "request-id": request.state.request_id}
            return Response(orjson.dumps(anthropic_error(exc)), status_code=exc.status, headers=headers,
                            media_type="application/json")

    wrapped.__name__ = handler.__name__
    return wrapped


async def _authorized_body(request: Request) -> tuple[Services, Any, dict[str, Any]]:
    services: Services = request.app.state.services
    principal = await services.auth.authenticate(request.headers, request.client.host if request.client else None)
    body = await read_json_object(request, services.settings.max_body_bytes)
    return services, principal, body


def session_id(request: Request) -> str | None:
    """Claude Code's session, recorded with the usage so spend can be reported per session."""
    value = request.headers.get("x-claude-code-session-id")
    return value[:128] if value else None


@anthropic_envelope
async def messages(request: Request) -> Response | SSEResponse:
    started = time.perf_counter()
    services, principal, body = await _authorized_body(request)
    if not isinstance(body.get("max_tokens"), int) or isinstance(body.get("max_tokens"), bool):
        raise InvalidRequest("max_tokens: Field required (a positive integer)", param="max_tokens")
    entry = resolve_model(services.catalog, body, principal)
    reply = await services.messages.run(request_id=request.state.request_id, principal=principal, entry=entry,
                                        body=body, beta_header=request.headers.get("anthropic-beta"),
                                        started=started, session_id=session_id(request))
    headers = {**reply.headers, "request-id": request.state.request_id}
    if isinstance(reply, Reply):
        return Response(reply.body, media_type="application/json", headers=headers,
                        background=BackgroundTask(reply.after))
    return SSEResponse(reply.frames, headers=headers, on_abandon=reply.on_abandon)


@anthropic_envelope
async def count_tokens(request: Request) -> Response:
    """No admission and no record: counting tokens bills nothing (Bedrock's CountTokens is free)."""
    services, principal, body = await _authorized_body(request)
    entry = resolve_model(services.catalog, body, principal)
    provider = services.providers[entry.provider]
    answer = await provider.count_tokens(entry, body, beta_header=request.headers.get("anthropic-beta"),
                                         request_id=request.state.request_id)
    return Response(orjson.dumps(answer), media_type="application/json",
                    headers={"request-id": request.state.request_id})
