"""POST /v1/chat/completions (and its alias /v1/chat): the hot path, readable top to bottom."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from proxy import accounting, pricing
from proxy.accounting import ChatCall
from proxy.catalog import ModelEntry
from proxy.chat_stream import open_stream
from proxy.errors import GatewayError, InvalidRequest, PayloadTooLarge, PermissionDenied
from proxy.identity import Principal
from proxy.ids import random_hex
from proxy.services import Services
from proxy.tokens import COMPLETION_ALLOWANCE, WORST_CASE_COMPLETION, estimate_prompt_tokens
from translators import (
    ConverseRequest,
    TranslationError,
    clean_usage,
    converse_response_to_openai,
    openai_request_to_converse,
)


async def chat_completions(request: Request) -> Response:
    services: Services = request.app.state.services
    started = time.perf_counter()
    principal = await services.auth.authenticate(request.headers)
    body = await read_json_object(request, services.settings.max_body_bytes)
    entry = resolve_model(services, body, principal)
    conv = translate(body, entry, drop_unsupported=services.settings.drop_unsupported_params)
    prompt_estimate = estimate_prompt_tokens(conv.body)
    admission = await services.limiter.admit(
        principal,
        tokens=prompt_estimate + (conv.max_tokens or COMPLETION_ALLOWANCE),
        cost_usd=pricing.worst_case_cost(entry, prompt_estimate, conv.max_tokens or WORST_CASE_COMPLETION),
    )
    call = ChatCall(
        request_id=request.state.request_id, principal=principal, entry=entry, conv=conv,
        admission=admission, model=body["model"], started=started, prompt_estimate=prompt_estimate,
        completion_id="chatcmpl-" + random_hex(), created=int(time.time()),
    )
    if conv.stream:
        return await open_stream(services, call)
    return await complete(services, call)


async def complete(services: Services, call: ChatCall) -> Response:
    try:
        resp = await services.bedrock.converse(call.entry.bedrock_id, call.conv.body, request_id=call.request_id)
    except GatewayError:
        await accounting.finish(services, call, bedrock_usage=None, status="upstream_error", streaming=False)
        raise
    call.upstream_done = time.perf_counter()
    usage = clean_usage(resp.get("usage") if isinstance(resp, dict) else None) or {}
    try:
        completion = converse_response_to_openai(
            resp, request=call.conv, model=call.model, completion_id=call.completion_id, created=call.created
        )
        cost = pricing.cost(call.entry, usage)
    except Exception:  # Bedrock billed this call: record it even though we cannot answer it
        await accounting.finish(services, call, bedrock_usage=usage, status="error", streaming=False)
        raise
    completion["gateway_metadata"] = accounting.gateway_metadata(call, cost)
    headers = {**call.admission.headers, **accounting.gateway_headers(call, cost)}
    # Settling the limiter and recording usage happen after the body is sent: off the hot path.
    task = BackgroundTask(
        accounting.finish, services, call, bedrock_usage=usage, status="ok", streaming=False, cost=cost
    )
    return Response(orjson.dumps(completion), media_type="application/json", headers=headers, background=task)


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the {limit} bytes this gateway accepts.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the {limit} bytes this gateway accepts.")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def resolve_model(services: Services, body: dict[str, Any], principal: Principal) -> ModelEntry:
    model = body.get("model")
    if model is None or model == "":
        raise InvalidRequest("you must provide a model parameter", param="model", code="missing_required_parameter")
    if not isinstance(model, str):
        raise InvalidRequest("'model' must be a string naming a model.", param="model")
    entry = services.catalog.resolve(model)
    if not principal.may_use(entry.alias):
        raise PermissionDenied(
            f"Your API key is not allowed to use the model `{model}`.", param="model", code="model_not_allowed"
        )
    return entry


def translate(body: dict[str, Any], entry: ModelEntry, *, drop_unsupported: bool) -> ConverseRequest:
    try:
        return openai_request_to_converse(body, capabilities=entry.capabilities, drop_unsupported=drop_unsupported)
    except TranslationError as exc:
        raise InvalidRequest(exc.message, param=exc.param, code=exc.code) from None
