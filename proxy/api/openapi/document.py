"""The document itself, built once at import, and GET /openapi.json."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from proxy import __version__
from proxy.api.openapi.admin import ADMIN_SCHEMAS
from proxy.api.openapi.anthropic import ANTHROPIC_SCHEMAS
from proxy.api.openapi.bedrock import BEDROCK_SCHEMAS
from proxy.api.openapi.catalog import OTHER_SCHEMAS
from proxy.api.openapi.chat import CHAT_REQUEST_SCHEMAS, CHAT_RESPONSE_SCHEMAS
from proxy.api.openapi.common import (
    CACHE_CONTROL,
    HEADERS,
    TEAM_SECURITY,
    _anthropic_error_responses,
    _bedrock_error_responses,
    _error_responses,
)
from proxy.api.openapi.paths import _paths


def build_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LLM Gateway",
            "version": __version__,
            "summary": "An OpenAI-compatible gateway in front of AWS Bedrock.",
            "description": "Chat completions, streaming, tools and errors as OpenAI has them, over Bedrock Converse, "
                           "and the Anthropic Messages API for Claude Code and the Anthropic SDK; team keys, rate "
                           "limits, budgets and usage for chargeback. Every error is OpenAI's envelope "
                           "`{\"error\": {\"message\", \"type\", \"param\", \"code\"}}` (on /v1/messages "
                           "Anthropic's, on /model/... Bedrock's), and every response the app answers carries "
                           "`x-request-id`. Every GET route also answers HEAD.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [{"name": name} for name in ("chat", "anthropic", "bedrock", "models", "usage", "admin",
                                             "operations")],
        "security": TEAM_SECURITY,
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "`Authorization: Bearer <key>` (what the OpenAI SDKs send): a team "
                                              "key (`team`), or LLM_GATEWAY_ADMIN_KEY on /admin and /metrics "
                                              "(`admin`)."},
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "x-api-key",
                               "description": "The same keys as `x-api-key: <key>`."},
            },
            "headers": HEADERS,
            "responses": {**_error_responses(), **_anthropic_error_responses(), **_bedrock_error_responses()},
            "schemas": {**OTHER_SCHEMAS, **CHAT_REQUEST_SCHEMAS, **CHAT_RESPONSE_SCHEMAS, **ANTHROPIC_SCHEMAS,
                        **BEDROCK_SCHEMAS, **ADMIN_SCHEMAS},
        },
    }


DOCUMENT: dict[str, Any] = build_document()
_RENDERED = orjson.dumps(DOCUMENT)


class _Document(JSONResponse):
    def render(self, content: Any) -> bytes:
        return _RENDERED  # serialised once, at import


async def openapi_endpoint(request: Request) -> JSONResponse:
    return _Document(None, headers={"cache-control": CACHE_CONTROL})
