"""GET /v1/models and /v1/models/{id}: the catalog in OpenAI's list shape, filtered per key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from proxy.catalog.catalog import ModelEntry
from proxy.errors import ModelNotFound
from proxy.services import Services

CATALOG_CREATED = 1_700_000_000  # OpenAI's `created` is required; the catalog has no dates


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


async def list_models(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    principal = await services.auth.authenticate(request.headers)
    data = [model_object(e, services.providers[e.provider].name)
            for e in services.catalog.entries.values() if principal.may_use(e.alias)]
    return JSONResponse({"object": "list", "data": data})


async def get_model(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    principal = await services.auth.authenticate(request.headers)
    name = request.path_params["model_id"]
    entry = services.catalog.entries.get(name)
    if entry is None or not principal.may_use(entry.alias):
        raise ModelNotFound(f"The model `{name}` does not exist or you do not have access to it.", param="model")
    return JSONResponse(model_object(entry, services.providers[entry.provider].name))
