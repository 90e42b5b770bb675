"""Every route: operations, parameters, links."""

from __future__ import annotations

from typing import Any

from proxy.api.openapi.admin import KEY_ID
from proxy.api.openapi.bedrock import BEDROCK_OPERATIONS
from proxy.api.openapi.chat import CHAT_EXAMPLES
from proxy.api.openapi.common import (
    ADMIN_AUTH,
    ADMIN_SECURITY,
    ANTHROPIC_ID,
    DATE,
    ID_HEADERS,
    ID_PATTERN,
    RATE_LIMIT_HEADERS,
    REPORT_MAX_DAYS,
    TEAM_AUTH,
    TEAM_SECURITY,
    Schema,
    _h,
    anthropic_errors,
    bedrock_errors,
    errors,
    integer,
    json_body,
    json_response,
    obj,
    ref,
    string,
)


# --- paths -------------------------------------------------------------------------------------------------------
def _op(operation_id: str, summary: str, responses: dict[str, Schema], *, tags: list[str],
        security: list[dict[str, list[str]]], **extra: Any) -> Schema:
    return {"operationId": operation_id, "summary": summary, "tags": tags, "security": security,
            "responses": responses, **extra}


TEAM_ID_PARAM = {"name": "team_id", "in": "path", "required": True, "schema": string(pattern=ID_PATTERN)}
KEY_ID_PARAM = {"name": "key_id", "in": "path", "required": True, "schema": KEY_ID}


def _link(operation_id: str, description: str, *, parameters: dict[str, str] | None = None,
          body: dict[str, str] | None = None) -> Schema:
    link: Schema = {"operationId": operation_id, "description": description}
    if parameters:
        link["parameters"] = parameters
    if body:
        link["requestBody"] = body  # merged into the target's body
    return link


def _team_links() -> dict[str, Schema]:
    team = "$response.body#/team_id"
    return {
        "GetTeam": _link("getTeam", "The team just created.", parameters={"team_id": team}),
        "UpdateTeam": _link("updateTeam", "Change it.", parameters={"team_id": team}),
        "DeleteTeam": _link("deleteTeam", "Delete it.", parameters={"team_id": team}),
        "CreateKey": _link("createKey", "A key for it.", body={"team_id": team}),
        "ListKeys": _link("listKeys", "Its keys.", parameters={"team_id": team}),
    }


def _key_links(expression: str = "$response.body#/key_id") -> dict[str, Schema]:
    return {
        "GetKey": _link("getKey", "The key.", parameters={"key_id": expression}),
        "UpdateKey": _link("updateKey", "Change it.", parameters={"key_id": expression}),
        "RevokeKey": _link("revokeKey", "Revoke it.", parameters={"key_id": expression}),
        "RotateKey": _link("rotateKey", "Rotate it.", parameters={"key_id": expression}),
    }


def _chat_operation(operation_id: str, summary: str) -> Schema:
    ok = {
        "description": "A `chat.completion` (JSON), or with `stream: true` server-sent `chat.completion.chunk` "
                       "events ending with `data: [DONE]`. A failure after the first byte arrives as an error "
                       "event. A stream carries the headers known before its first byte (no cost or latency).",
        "headers": {**ID_HEADERS, **RATE_LIMIT_HEADERS, "x-gateway-team-id": _h("TeamId"),
                    "x-gateway-provider": _h("Provider"), "x-gateway-deployment": _h("Deployment"),
                    "x-gateway-overhead-ms": _h("OverheadMs"), "x-gateway-cost-usd": _h("CostUsd"),
                    "x-gateway-latency-ms": _h("LatencyMs"), "x-gateway-cost-priced": _h("CostPriced")},
        "content": {"application/json": {"schema": ref("ChatCompletion")},
                    "text/event-stream": {"schema": ref("ChatCompletionStreamEvent")}},
    }
    return _op(operation_id, summary, {"200": ok, **errors(400, 401, 403, 404, 413, 429, 502, 504)},
               tags=["chat"], security=TEAM_SECURITY,
               requestBody=json_body(ref("ChatCompletionRequest"), examples=CHAT_EXAMPLES))


def _embeddings_operation() -> Schema:
    request = obj({
        "model": string("A catalog alias of an embedding model (Titan Text Embeddings, Cohere Embed, or an "
                        "OpenAI-format upstream's)."),
        "input": {"description": "A string, a list of strings (up to 2,048), or token arrays (OpenAI-format "
                                 "upstreams only; Bedrock's models take text).",
                  "oneOf": [string(), {"type": "array", "items": string(), "minItems": 1, "maxItems": 2048},
                            {"type": "array", "items": integer(), "minItems": 1},
                            {"type": "array", "items": {"type": "array", "items": integer()}, "minItems": 1}]},
        "encoding_format": {"enum": ["float", "base64"], "description": "base64: little-endian float32."},
        "dimensions": integer("Titan v2: 256, 512 or 1024; Cohere v4: 256 to 1536.", minimum=1),
        "user": string(),
        "input_type": {"enum": ["search_document", "search_query", "classification", "clustering"],
                       "description": "Cohere extension (default search_document)."},
        "normalize": {"type": "boolean", "description": "Titan v2 extension (default true)."},
        "truncate": {"enum": ["NONE", "START", "END"], "description": "Cohere extension."},
    }, ["model", "input"], closed=False)
    item = obj({"object": {"const": "embedding"}, "index": integer(minimum=0),
                "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}}, string()]}},
               ["object", "index", "embedding"], closed=False)
    listing = obj({"object": {"const": "list"}, "data": {"type": "array", "items": item}, "model": string(),
                   "usage": obj({"prompt_tokens": integer(minimum=0), "total_tokens": integer(minimum=0)},
                                ["prompt_tokens", "total_tokens"], closed=False),
                   "gateway_metadata": ref("GatewayMetadata")}, ["object", "data", "model", "usage"], closed=False)
    ok = {"description": "OpenAI's embeddings list, one vector per input in input order.",
          "headers": {**ID_HEADERS, **CALL_HEADERS}, "content": {"application/json": {"schema": listing}}}
    return _op("createEmbeddings", "OpenAI embeddings over Bedrock (Titan, Cohere) or an OpenAI-format upstream",
               {"200": ok, **errors(400, 401, 403, 404, 413, 429, 502, 504)}, tags=["chat"],
               security=TEAM_SECURITY, requestBody=json_body(request))


CALL_HEADERS = {**RATE_LIMIT_HEADERS, "x-gateway-team-id": _h("TeamId"), "x-gateway-provider": _h("Provider"),
                "x-gateway-deployment": _h("Deployment"),
                "x-gateway-overhead-ms": _h("OverheadMs"), "x-gateway-cost-usd": _h("CostUsd"),
                "x-gateway-latency-ms": _h("LatencyMs"), "x-gateway-cost-priced": _h("CostPriced")}
ANTHROPIC_HEADER_PARAMS = [
    {"name": "anthropic-version", "in": "header", "required": False, "description": "Any version is accepted.",
     "schema": string(examples=["2023-06-01"])},
    {"name": "anthropic-beta", "in": "header", "required": False,
     "description": "Comma-separated betas; those the catalog does not list for the model are dropped.",
     "schema": string()},
]
BETA_QUERY = {"name": "beta", "in": "query", "required": False, "description": "The Anthropic SDK's `?beta=true`; "
              "ignored.", "schema": string()}
MESSAGES_EXAMPLES: dict[str, Any] = {
    "basic": {"model": "claude-3-haiku", "max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]},
    "stream": {"model": "claude-3-5-haiku", "max_tokens": 256, "stream": True,
               "messages": [{"role": "user", "content": "Tell me a story"}]},
    "converse": {"model": "nova-lite", "max_tokens": 128, "system": "Be brief.",
                 "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]},
}


def _messages_operation() -> Schema:
    ok = {
        "description": "An Anthropic message (JSON), or with `stream: true` Anthropic's server-sent events.",
        "headers": {**ID_HEADERS, **ANTHROPIC_ID, **CALL_HEADERS},
        "content": {"application/json": {"schema": ref("AnthropicMessage")},
                    "text/event-stream": {"schema": ref("AnthropicStreamEvent")}},
    }
    return _op("createMessage", "The Anthropic Messages API over Bedrock (Claude Code, the Anthropic SDK)",
               {"200": ok, **anthropic_errors(400, 401, 403, 404, 413, 429, 502, 504)}, tags=["anthropic"],
               security=TEAM_SECURITY, parameters=[BETA_QUERY, *ANTHROPIC_HEADER_PARAMS],
               requestBody=json_body(ref("AnthropicMessagesRequest"), examples=MESSAGES_EXAMPLES))


def _count_tokens_operation() -> Schema:
    body = {"allOf": [ref("AnthropicMessagesRequest")], "required": ["model", "messages"]}
    ok = json_response("The prompt's input tokens: Bedrock's CountTokens for Claude, the gateway's estimate for "
                       "other models. Not admitted, not recorded: it bills nothing.", ref("AnthropicTokenCount"),
                       ANTHROPIC_ID)
    return _op("countTokens", "Count a Messages request's input tokens",
               {"200": ok, **anthropic_errors(400, 401, 403, 404, 413, 429, 502, 504)}, tags=["anthropic"],
               security=TEAM_SECURITY, parameters=[BETA_QUERY, *ANTHROPIC_HEADER_PARAMS],
               requestBody=json_body({**body, "description": "As /v1/messages; `max_tokens` is optional."}))


BEDROCK_EXAMPLES: dict[str, Any] = {
    "converse": {"messages": [{"role": "user", "content": [{"text": "Hello"}]}],
                 "inferenceConfig": {"maxTokens": 128}},
    "invoke": {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 128,
               "messages": [{"role": "user", "content": "Hello"}]},
}


def _passthrough_operation() -> Schema:
    ok = {
        "description": "Bedrock's answer, byte for byte: JSON, or for the streaming operations "
                       "`application/vnd.amazon.eventstream`.",
        "headers": {**ID_HEADERS, "x-amzn-RequestId": _h("AmznRequestId"), **CALL_HEADERS},
        "content": {"application/json": {"schema": {"type": "object"}},
                    "application/vnd.amazon.eventstream": {"schema": string(format="binary")}},
    }
    return _op("bedrockRuntime", "Bedrock Runtime's own API (Claude Code in Bedrock mode, boto3), metered",
               {"200": ok, **bedrock_errors(400, 401, 403, 404, 413, 429, 502, 504)}, tags=["bedrock"],
               security=TEAM_SECURITY,
               parameters=[
                   {"name": "model_id", "in": "path", "required": True, "description": "A catalog alias or "
                    "Bedrock model id (through the catalog: aliases and allow-lists apply); ARNs may hold `/`. "
                    "No line break: such a URL is no route (404 `unknown_url`, OpenAI's envelope).",
                    "schema": {"type": "string", "minLength": 1, "not": {"pattern": "\n"}},
                    "examples": {"alias": {"value": "claude-3-haiku"}}},
                   {"name": "operation", "in": "path", "required": True,
                    "description": "Anything else is a 404 (`ResourceNotFoundException`).",
                    "schema": {"enum": BEDROCK_OPERATIONS}},
               ],
               requestBody=json_body({"type": "object", "description": "The operation's Bedrock body, sent on as "
                                      "it came (the client's SigV4 is ignored; betas Bedrock refuses for the model "
                                      "are dropped from `anthropic_beta`)."}, examples=BEDROCK_EXAMPLES))


def _paths() -> dict[str, Schema]:
    return {
        "/health": {"get": _op("health", "Process alive", {
            "200": json_response("Alive.", ref("Health")), **errors()}, tags=["operations"], security=[])},
        "/ready": {"get": _op("ready", "Can this process serve traffic?", {
            "200": json_response("Every dependency answers.", ref("Ready"),
                                 {"cache-control": _h("CacheControlNoStore")}),
            **errors(),
            "503": {"description": "A dependency is failing (the body names it), or the HTTP server is over its "
                                   "caps (the error envelope).",
                    "headers": {"x-request-id": _h("RequestIdIfAnswered"),
                                "x-client-request-id": _h("ClientRequestId"), "retry-after": _h("RetryAfter")},
                    "content": {"application/json": {"schema": {"oneOf": [ref("Ready"), ref("Error")]}}}},
        }, tags=["operations"], security=[])},
        "/openapi.json": {"get": _op("openapi", "This document", {
            "200": json_response("The OpenAPI 3.1 document.",
                                 {"type": "object", "required": ["openapi", "info", "paths"]},
                                 {"cache-control": _h("CacheControlPublic")}),
            **errors()}, tags=["operations"], security=[])},
        "/v1/chat/completions": {"post": _chat_operation("createChatCompletion", "OpenAI chat completions over "
                                                                                 "Bedrock")},
        "/v1/chat": {"post": _chat_operation("createChatCompletionAlias", "The same as /v1/chat/completions")},
        "/v1/embeddings": {"post": _embeddings_operation()},
        "/v1/messages": {"post": _messages_operation()},
        "/v1/messages/count_tokens": {"post": _count_tokens_operation()},
        "/model/{model_id}/{operation}": {"post": _passthrough_operation()},
        "/inference-profiles": {"get": _op("inferenceProfiles", "Bedrock's inference profiles (none); no key", {
            "200": json_response("An empty list: Claude Code in Bedrock mode asks for it first.",
                                 ref("InferenceProfiles")), **errors()}, tags=["bedrock"], security=[])},
        "/v1/models": {"get": _op("listModels", "The models this key may use", {
            "200": json_response("The catalog in OpenAI's list shape (Anthropic's with an `anthropic-version` "
                                 "header), filtered per key.",
                                 {"oneOf": [ref("ModelList"), ref("AnthropicModelList")]}),
            **errors(*TEAM_AUTH)}, tags=["models"], security=TEAM_SECURITY,
            parameters=[ANTHROPIC_HEADER_PARAMS[0]])},
        "/v1/models/{model_id}": {"get": _op("getModel", "One model", {
            "200": json_response("The model (Anthropic's shape with an `anthropic-version` header).",
                                 {"oneOf": [ref("Model"), ref("AnthropicModel")]}),
            **errors(*TEAM_AUTH, 404)}, tags=["models"], security=TEAM_SECURITY,
            parameters=[{"name": "model_id", "in": "path", "required": True,
                         "description": "A catalog alias.", "schema": string(minLength=1),
                         "examples": {"alias": {"value": "claude-3-haiku"}}}, ANTHROPIC_HEADER_PARAMS[0]])},
        "/v1/usage": {"get": _op("getUsage", "The caller's team usage and cost", {
            "200": json_response("Usage over the last `days` days (from the daily aggregates; lags live traffic by "
                                 "at most one flush interval).", ref("TeamUsage")),
            **errors(*TEAM_AUTH, 400)}, tags=["usage"], security=TEAM_SECURITY,
            parameters=[{"name": "days", "in": "query", "required": False,
                         "schema": integer(minimum=1, maximum=REPORT_MAX_DAYS, default=30)}])},
        "/metrics": {"get": _op("metrics", "Prometheus metrics", {
            "200": {"description": "Prometheus text exposition format 0.0.4.", "headers": ID_HEADERS,
                    "content": {"text/plain": {"schema": string()}}},
            **errors(*ADMIN_AUTH)}, tags=["operations"], security=ADMIN_SECURITY)},
        "/admin/teams": {
            "post": _op("createTeam", "Create a team", {
                "201": {**json_response("The team.", ref("Team")), "links": _team_links()},
                **errors(*ADMIN_AUTH, 400, 409)}, tags=["admin"], security=ADMIN_SECURITY,
                requestBody=json_body(ref("TeamCreate"), examples={"team": {
                    "team_id": "acme", "team_name": "Acme Corp", "cost_center": "CC-1234", "limits": {"rpm": 60},
                    "monthly_budget_usd": 500, "allowed_models": ["claude-3-5-sonnet", "claude-3-5-haiku"]}})),
            "get": _op("listTeams", "Every team", {
                "200": json_response("The teams.", ref("TeamList")), **errors(*ADMIN_AUTH)},
                tags=["admin"], security=ADMIN_SECURITY),
        },
        "/admin/teams/{team_id}": {
            "parameters": [TEAM_ID_PARAM],
            "get": _op("getTeam", "One team", {
                "200": json_response("The team.", ref("Team")), **errors(*ADMIN_AUTH, 404)},
                tags=["admin"], security=ADMIN_SECURITY),
            "patch": _op("updateTeam", "Change a team", {
                "200": json_response("The team as changed.", ref("Team")), **errors(*ADMIN_AUTH, 400, 404)},
                tags=["admin"], security=ADMIN_SECURITY, requestBody=json_body(ref("TeamUpdate"))),
            "delete": _op("deleteTeam", "Delete a team (its keys are revoked first)", {
                "200": json_response("Deleted.", ref("TeamDeleted")), **errors(*ADMIN_AUTH, 404)},
                tags=["admin"], security=ADMIN_SECURITY),
        },
        "/admin/keys": {
            "post": _op("createKey", "Create a key for a team", {
                "201": {**json_response("The key and its secret (shown once).", ref("NewApiKey"),
                                        {"cache-control": _h("CacheControlNoStore")}), "links": _key_links()},
                **errors(*ADMIN_AUTH, 400, 404, 409)}, tags=["admin"], security=ADMIN_SECURITY,
                requestBody=json_body(ref("KeyCreate"), examples={"key": {"team_id": "acme", "name": "ci-bot",
                                                                          "expires_in_days": 90}})),
            "get": _op("listKeys", "Keys (of one team, or all)", {
                "200": json_response("The keys; never secrets or hashes.", ref("ApiKeyList")),
                **errors(*ADMIN_AUTH, 400)}, tags=["admin"], security=ADMIN_SECURITY,
                parameters=[{"name": "team_id", "in": "query", "required": False,
                             "schema": string(pattern=ID_PATTERN)}]),
        },
        "/admin/keys/{key_id}": {
            "parameters": [KEY_ID_PARAM],
            "get": _op("getKey", "One key", {
                "200": json_response("The key.", ref("ApiKey")), **errors(*ADMIN_AUTH, 404)},
                tags=["admin"], security=ADMIN_SECURITY),
            "patch": _op("updateKey", "Change a key", {
                "200": json_response("The key as changed.", ref("ApiKey")), **errors(*ADMIN_AUTH, 400, 404)},
                tags=["admin"], security=ADMIN_SECURITY, requestBody=json_body(ref("KeyUpdate"))),
        },
        "/admin/keys/{key_id}/revoke": {
            "parameters": [KEY_ID_PARAM],
            "post": _op("revokeKey", "Revoke a key (idempotent)", {
                "200": json_response("The key, revoked.", ref("ApiKey")), **errors(*ADMIN_AUTH, 404)},
                tags=["admin"], security=ADMIN_SECURITY),
        },
        "/admin/keys/{key_id}/rotate": {
            "parameters": [KEY_ID_PARAM],
            "post": _op("rotateKey", "Rotate a key", {
                "201": {**json_response("The new key and the old one.", ref("RotatedApiKey"),
                                    {"cache-control": _h("CacheControlNoStore")}), "links": _key_links()},
                **errors(*ADMIN_AUTH, 400, 404)}, tags=["admin"], security=ADMIN_SECURITY,
                requestBody=json_body(ref("KeyRotate"), required=False)),
        },
        "/admin/usage": {"get": _op("usageReport", "Usage of any team, grouped", {
            "200": {"description": "The report as JSON, or CSV with `format=csv`.",
                    "headers": {**ID_HEADERS, "content-disposition": _h("ContentDisposition")},
                    "content": {"application/json": {"schema": ref("UsageReport")},
                                "text/csv": {"schema": string(
                                    "Columns from,to,group,requests,prompt_tokens,completion_tokens,cached_tokens,"
                                    "cache_write_tokens,total_tokens,errors,cost_usd.")}}},
            **errors(*ADMIN_AUTH, 400)}, tags=["admin"], security=ADMIN_SECURITY,
            parameters=[
                {"name": "from", "in": "query", "required": False,
                 "description": "First day (default: the first of `to`'s month).",
                 "schema": {**DATE, "format": "date"}},
                {"name": "to", "in": "query", "required": False, "description": "Last day (default: today, UTC).",
                 "schema": {**DATE, "format": "date"}},
                {"name": "group_by", "in": "query", "required": False,
                 "schema": {"enum": ["team", "cost_center", "model", "day"], "default": "team"}},
                {"name": "format", "in": "query", "required": False,
                 "schema": {"enum": ["json", "csv"], "default": "json"}},
                {"name": "team_id", "in": "query", "required": False, "description": "One team only.",
                 "schema": string()},
            ])},
    }


