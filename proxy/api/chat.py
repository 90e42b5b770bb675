"""POST /v1/chat/completions (and its alias /v1/chat): HTTP only; the call's life is proxy/pipeline/chat.py."""

from __future__ import annotations

import time
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from proxy.api.sse import SSEResponse
from proxy.auth.principal import Principal
from proxy.catalog.catalog import ModelCatalog, ModelEntry
from proxy.errors import InvalidRequest, PermissionDenied
from proxy.json_body import parse_json, read_body
from proxy.pipeline.chat import Reply
from proxy.services import Services


async def chat_completions(request: Request) -> Response | SSEResponse:
    services: Services = request.app.state.services
    started = time.perf_counter()
    principal = await services.auth.authenticate(request.headers, request.client.host if request.client else None)
    body = await read_json_object(request, services.settings.max_body_bytes)
    entry = resolve_model(services.catalog, body, principal)
    reply = await services.chat.run(request_id=request.state.request_id, principal=principal, entry=entry,
                                    body=body, started=started, headers=request.headers)
    if isinstance(reply, Reply):
        return Response(reply.body, media_type="application/json", headers=reply.headers,
                        background=BackgroundTask(reply.after))
    return SSEResponse(reply.frames, headers=reply.headers, on_abandon=reply.on_abandon)


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    body = parse_json(await read_body(request, limit))
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def resolve_model(catalog: ModelCatalog, body: dict[str, Any], principal: Principal) -> ModelEntry:
    model = body.get("model")
    if model is None or model == "":
        raise InvalidRequest("you must provide a model parameter", param="model", code="missing_required_parameter")
    if not isinstance(model, str):
        raise InvalidRequest("'model' must be a string naming a model.", param="model")
    entry = catalog.resolve(model)
    if not principal.may_use(entry.alias):
        raise PermissionDenied(
            f"Your API key is not allowed to use the model `{model}`.", param="model", code="model_not_allowed"
        )
    return entry
