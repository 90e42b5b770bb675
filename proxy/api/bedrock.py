"""Bedrock Runtime's own routes, for clients that speak Bedrock (Claude Code in Bedrock mode, boto3).

`CLAUDE_CODE_USE_BEDROCK=1 ANTHROPIC_BEDROCK_BASE_URL=<gateway> CLAUDE_CODE_SKIP_BEDROCK_AUTH=1` and the
team key in `ANTHROPIC_CUSTOM_HEADERS="x-api-key: sk-gw-…"`. Errors come back as Bedrock words them
(`x-amzn-ErrorType` and `{"message": ...}`), so the AWS SDK maps them to its own exceptions.
"""

from __future__ import annotations

import time

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proxy.api.chat import resolve_model
from proxy.api.messages import session_id
from proxy.api.sse import SSEResponse
from proxy.errors import GatewayError, NotFound
from proxy.json_body import read_body
from proxy.pipeline.chat import Reply
from proxy.providers.bedrock.passthrough import EVENTSTREAM, JSON, OPERATIONS, error_answer
from proxy.services import Services


def bedrock_error(exc: GatewayError, request_id: str) -> Response:
    headers, body = error_answer(exc.status, exc.message)
    return Response(body, status_code=exc.status, headers={**exc.headers, **headers, "x-amzn-RequestId": request_id},
                    media_type=JSON)


async def passthrough(request: Request) -> Response | SSEResponse:
    started = time.perf_counter()
    services: Services = request.app.state.services
    request_id: str = request.state.request_id
    try:
        operation = request.path_params["operation"]
        if operation not in OPERATIONS:
            raise NotFound(f"Unknown Bedrock operation {operation!r}.", code="unknown_url")
        principal = await services.auth.authenticate(request.headers, request.client.host if request.client else None)
        payload = await read_body(request, services.settings.max_body_bytes)
        entry = resolve_model(services.catalog, {"model": request.path_params["model_id"]}, principal)
        reply = await services.passthrough.run(request_id=request_id, principal=principal, entry=entry,
                                               operation=operation, payload=payload, started=started,
                                               session_id=session_id(request))
    except GatewayError as exc:
        services.metrics.count_error(exc.status, exc.code)
        return bedrock_error(exc, request_id)
    headers = {**reply.headers, "x-amzn-RequestId": request_id}
    if isinstance(reply, Reply):
        return Response(reply.body, media_type=JSON, headers=headers, background=BackgroundTask(reply.after))
    return SSEResponse(reply.frames, headers=headers, on_abandon=reply.on_abandon, media_type=EVENTSTREAM)


async def inference_profiles(request: Request) -> JSONResponse:
    """Claude Code in Bedrock mode asks for these first (unauthenticated); none is not an error to it."""
    return JSONResponse({"inferenceProfileSummaries": []})
