"""GET /v1/models and /v1/models/{id}: the catalog in OpenAI's list shape, filtered per key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from proxy.catalog.catalog import ModelEntry
from proxy.errors import ModelNotFound
from proxy.services import Services

CATALOG_CREATED = 1_700_000_000  # OpenAI's `created` is required; the catalog has no dates
ANTHROPIC_CREATED = "2023-11-14T22:13:20Z"  # the same moment, as Anthropic's RFC 3339 created_at


def model_object(entry: ModelEntry, provider: str) -> dict[str, Any]:
    price = entry.price
    return {
        "id": entry.alias,
        "object": "model",
        "created": CATALOG_CREATED,
        "owned_by": entry.base_model_id.split(".", 1)[0],
        "provider": provider,
        "description": entry.description,
        "bedrock_model_id": entry.bedrock_id,
        "pricing": None if price is None else {
            "unit": "USD per 1K tokens",
            "input": float(price.input),
            "output": float(price.output),
            "cache_read": None if price.cache_read is None else float(price.cache_read),
            "cache_write": None if price.cache_write is None else float(price.cache_write),
        },
    }


def anthropic_model(entry: ModelEntry) -> dict[str, Any]:
    """Anthropic's model object: what Claude Code's model discovery parses."""
    return {"type": "model", "id": entry.alias, "display_name": entry.description or entry.alias,
            "created_at": ANTHROPIC_CREATED}


async def list_models(request: Request) -> JSONResponse:
    """OpenAI's list, or Anthropic's when the request carries anthropic-version (the Anthropic SDK does)."""
    services: Services = request.app.state.services
    principal = await services.auth.authenticate(request.headers, request.client.host if request.client else None)
    entries = [e for e in services.catalog.entries.values() if principal.may_use(e.alias)]
    if "anthropic-version" in request.headers:
        data = [anthropic_model(e) for e in entries]
        return JSONResponse({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None})
    return JSONResponse({"object": "list",
                         "data": [model_object(e, services.providers[e.provider].name) for e in entries]})


async def get_model(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    principal = await services.auth.authenticate(request.headers, request.client.host if request.client else None)
    name = request.path_params["model_id"]
    entry = services.catalog.entries.get(name)
    if entry is None or not principal.may_use(entry.alias):
        raise ModelNotFound(f"The model `{name}` does not exist or you do not have access to it.", param="model")
    if "anthropic-version" in request.headers:
        return JSONResponse(anthropic_model(entry))
    return JSONResponse(model_object(entry, services.providers[entry.provider].name))
