"""GET /openapi.json: the gateway's OpenAPI 3.1 document, built once from the tables below; no auth.

The document describes what the gateway really accepts and answers (request rules from
translators/openai_bedrock/params.py and proxy/auth/parse.py, response shapes from proxy/api/, proxy/admin/,
proxy/auth/ops.py and proxy/usage/reports.py). tests/unit/api/test_openapi.py keeps its paths and methods equal
to the app's routes; tests/e2e/test_openapi_fuzz.py fuzzes a running gateway against it with schemathesis.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from proxy import __version__

Schema = dict[str, Any]

CACHE_CONTROL = "public, max-age=300"


# --- helpers -------------------------------------------------------------------------------------------------
def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: tuple[str, ...] | list[str] = (), *, closed: bool = True,
        **extra: Any) -> Schema:
    """An object; ``closed`` (the default) for shapes the gateway writes or fully validates itself."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (JSON Schema 2020-12: no `nullable` keyword in OpenAPI 3.1)."""
    if "type" in schema and "$ref" not in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*kinds, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def string(description: str | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def integer(description: str | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "integer", **extra}
    if description:
        schema["description"] = description
    return schema


TIMESTAMP = string("UTC, second precision.", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                   examples=["2026-11-30T12:00:00Z"])
DATE = string("A calendar day (UTC), YYYY-MM-DD.", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", examples=["2026-11-30"])
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # proxy/auth/parse.py ID_RE
MAX_TEXT = 200  # proxy/auth/parse.py
MAX_LIMIT = 10**12
MAX_BUDGET_USD = 10**9
MAX_DAYS = 36_500
MAX_GRACE_SECONDS = 10 * 366 * 24 * 3600
REPORT_MAX_DAYS = 366  # proxy/usage/reports.py


# --- errors and headers ------------------------------------------------------------------------------------------
ERROR_TYPES = ["invalid_request_error", "api_error", "requests", "tokens", "insufficient_quota"]

HEADERS: dict[str, Schema] = {
    "RequestId": {
        "description": "The gateway's own id for this request (it also keys the usage record). Always the "
                       "gateway's: a client's own `x-request-id` comes back as `x-client-request-id`.",
        "required": True,
        "schema": string(pattern=r"^req_[0-9a-f]{32}$"),
    },
    "RequestIdIfAnswered": {
        "description": "As `x-request-id`; absent only when the HTTP server itself answered, before the request "
                       "reached the app (a head too large or too slow, or a process over its connection or "
                       "in-flight cap).",
        "required": False,
        "schema": string(pattern=r"^req_[0-9a-f]{32}$"),
    },
    "AnthropicRequestId": {"description": "The same id as `x-request-id`, as Anthropic's API names it.",
                           "required": True, "schema": string(pattern=r"^req_[0-9a-f]{32}$")},
    "AnthropicRequestIdIfAnswered": {"description": "As `request-id`; absent on the HTTP server's own answers.",
                                     "schema": string(pattern=r"^req_[0-9a-f]{32}$")},
    "AmznRequestId": {"description": "The same id as `x-request-id`, as Bedrock names it.", "required": True,
                      "schema": string(pattern=r"^req_[0-9a-f]{32}$")},
    "AmznRequestIdIfAnswered": {"description": "As `x-amzn-RequestId`; absent on the HTTP server's own answers and "
                                               "on the envelope of our own bugs.",
                                "schema": string(pattern=r"^req_[0-9a-f]{32}$")},
    "AmznErrorType": {"description": "The Bedrock exception (`ValidationException`, `AccessDeniedException`, "
                                     "`ResourceNotFoundException`, `ThrottlingException`, ...).", "required": True,
                      "schema": string(pattern=r"^[A-Za-z]+Exception(:.*)?$")},
    "AmznErrorTypeIfAnswered": {"description": "As `x-amzn-ErrorType`; absent on the HTTP server's own answers and on "
                                               "the envelope of our own bugs.",
                                "schema": string(pattern=r"^[A-Za-z]+Exception(:.*)?$")},
    "ClientRequestId": {
        "description": "The client's own `x-request-id`, echoed when it is 1-128 of `A-Za-z0-9._:-`.",
        "schema": string(pattern=r"^[A-Za-z0-9._:-]{1,128}$"),
    },
    "RetryAfter": {"description": "Seconds to wait before retrying (whole seconds, at least 1).",
                   "schema": string(pattern=r"^[0-9]+$")},
    "RetryAfterMs": {"description": "Milliseconds to wait before retrying.", "schema": string(pattern=r"^[0-9]+$")},
    "CacheControlNoStore": {"description": "Answers that carry a key's secret (or a readiness probe) are never "
                                           "cached.", "required": True, "schema": {"const": "no-store"}},
    "CacheControlPublic": {"description": "The document changes only with the gateway's version.",
                           "required": True, "schema": {"const": CACHE_CONTROL}},
    "ContentDisposition": {"description": "With `format=csv`: "
                                          "`attachment; filename=\"usage-<group_by>-<from>-<to>.csv\"`.",
                           "schema": string(pattern=r"^attachment; filename=\"usage-.+\.csv\"$")},
    "TeamId": {"description": "The caller's team.", "required": True, "schema": string()},
    "Provider": {"description": "The upstream provider that served the call: `aws-bedrock`, `openai`, "
                             "`azure-openai` or `openai-compatible`.", "required": True, "schema": string()},
    "Deployment": {"description": "The deployment that served the call, `<catalog provider>/<model or Azure "
                               "deployment>`; differs from the first one listed when the call fell back.",
                   "required": True, "schema": string(examples=["bedrock/anthropic.claude-3-haiku-20240307-v1:0"])},
    "OverheadMs": {"description": "Milliseconds spent in the gateway itself, excluding the upstream call.",
                   "required": True, "schema": string(pattern=r"^[0-9]+(\.[0-9]+)?$")},
    "CostUsd": {"description": "The call's cost in USD (exact decimal). Not on streams: their cost is in the "
                               "final chunks' `gateway_metadata`.", "schema": string(pattern=r"^[0-9]+(\.[0-9]+)?$")},
    "LatencyMs": {"description": "Milliseconds from arrival to the answer (not on streams).",
                  "schema": string(pattern=r"^[0-9]+$")},
    "CostPriced": {"description": "`false` when the cost is not fully priced (the model, or a token bucket it "
                                  "used, has no price).", "schema": {"const": "false"}},
}
for _kind in ("requests", "tokens"):
    HEADERS[f"RateLimitLimit-{_kind}"] = {
        "description": f"The stricter of the team's and the key's {_kind}-per-minute limit (absent when neither "
                       "has one).", "schema": string(pattern=r"^[0-9]+$")}
    HEADERS[f"RateLimitRemaining-{_kind}"] = {
        "description": f"{_kind.capitalize()} left in the current window.", "schema": string(pattern=r"^-?[0-9]+$")}
    HEADERS[f"RateLimitReset-{_kind}"] = {
        "description": "Until the window frees up, OpenAI's style: `20ms`, `1s`, `1.5s`, `6m0s`.",
        "schema": string(pattern=r"^([0-9]+ms|([0-9]+m)?[0-9]+(\.[0-9]+)?s)$")}


def _h(name: str) -> Schema:
    return {"$ref": f"#/components/headers/{name}"}


RATE_LIMIT_HEADERS = {
    f"x-ratelimit-{part}-{kind}": _h(f"RateLimit{part.capitalize()}-{kind}")
    for kind in ("requests", "tokens") for part in ("limit", "remaining", "reset")
}
ID_HEADERS = {"x-request-id": _h("RequestId"), "x-client-request-id": _h("ClientRequestId")}

# (status, component name, description, extra headers); x-request-id on all but the HTTP server's own answers.
ERRORS: list[tuple[int, str, str, dict[str, Schema]]] = [
    (400, "BadRequest", "The request cannot be served as sent: bad JSON, a bad or unknown parameter, content "
                        "the upstream cannot take. `error.param` names the field.", {}),
    (401, "Unauthorized", "No API key, or an unknown, revoked or expired one (`invalid_api_key`).", {}),
    (403, "Forbidden", "The key is valid but may not do this: a model outside its allow-list "
                       "(`model_not_allowed`), an unpriced model for a budgeted team (`model_not_priced`), a team key "
                       "on an admin route (`admin_key_required`), the admin API disabled (`admin_disabled`).", {}),
    (404, "NotFound", "No such resource (`not_found`, `model_not_found`) or URL (`unknown_url`).", {}),
    (408, "RequestTimeout", "The client did not send its request line, headers or body in time "
                            "(answered by the HTTP server, which then closes the connection).", {}),
    (409, "Conflict", "The resource already exists (`conflict`).", {}),
    (413, "PayloadTooLarge", "The body is larger than `LLM_GATEWAY_MAX_BODY_BYTES` (`request_too_large`).", {}),
    (429, "TooManyRequests", "A rate limit (`error.type` `requests` or `tokens`, `rate_limit_exceeded`), a spent "
                             "budget (`insufficient_quota`), upstream throttling, or too many failed "
                             "authentication attempts from this address (`too_many_failed_attempts`).",
     {"retry-after": _h("RetryAfter"), "retry-after-ms": _h("RetryAfterMs"), **RATE_LIMIT_HEADERS}),
    (431, "HeaderFieldsTooLarge", "The request line and headers are larger than "
                                  "`LLM_GATEWAY_HTTP_MAX_HEADER_BYTES` (answered by the HTTP server).", {}),
    (500, "InternalError", "The gateway's own fault (`internal_error`); the details are in its log under the "
                           "request id.", {}),
    (502, "BadGateway", "The upstream failed or its answer could not be read (`upstream_error`).", {}),
    (503, "ServiceUnavailable", "A dependency is unavailable (`service_unavailable`), this process is over its "
                                "caps (`server_overloaded`) or restarting (`server_shutting_down`); retryable.",
     {"retry-after": _h("RetryAfter")}),
    (504, "GatewayTimeout", "The upstream did not answer in time (`upstream_timeout`).", {}),
]
SERVER_ANSWERS = {408, 431, 503}  # statuses the HTTP server may answer itself, without x-request-id


def _error_responses() -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for status, name, description, extra in ERRORS:
        request_id = _h("RequestIdIfAnswered") if status in SERVER_ANSWERS else _h("RequestId")
        out[name] = {
            "description": description,
            "headers": {"x-request-id": request_id, "x-client-request-id": _h("ClientRequestId"), **extra},
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return out


_ERROR_NAMES = {status: name for status, name, _, _ in ERRORS}
ANTHROPIC_ID = {"request-id": _h("AnthropicRequestId")}


def _anthropic_error_responses() -> dict[str, Schema]:
    """/v1/messages answers its errors in Anthropic's envelope with `request-id`, but for the HTTP server's own
    answers (408, 431, 503 at its caps) and our own bugs (500), which are OpenAI's envelope."""
    out: dict[str, Schema] = {}
    for status, name, description, extra in ERRORS:
        if status in (408, 431):
            continue
        either = status in (500, 503)
        schema = {"anyOf": [ref("AnthropicError"), ref("Error")]} if either else ref("AnthropicError")
        request_id = _h("RequestIdIfAnswered") if status in SERVER_ANSWERS else _h("RequestId")
        out["Anthropic" + name] = {
            "description": description,
            "headers": {"x-request-id": request_id, "x-client-request-id": _h("ClientRequestId"),
                        "request-id": _h("AnthropicRequestIdIfAnswered" if either else "AnthropicRequestId"),
                        **extra},
            "content": {"application/json": {"schema": schema}},
        }
    return out


def _bedrock_error_responses() -> dict[str, Schema]:
    """The pass-through answers errors as Bedrock does (`x-amzn-ErrorType`, `{"message"}`), but for the HTTP
    server's own answers (408, 431, 503 at its caps) and our own bugs (500), which are OpenAI's envelope."""
    out: dict[str, Schema] = {}
    for status, name, description, extra in ERRORS:
        if status in (408, 409, 431):
            continue
        either = status in (404, 500, 503)  # 404: also the router's own, for a model id that is no path segment
        schema = {"anyOf": [ref("BedrockError"), ref("Error")]} if either else ref("BedrockError")
        if status == 404:
            description = ("No such model or operation (`ResourceNotFoundException`), or a URL that is no route "
                           "(a line break in the model id: OpenAI's envelope, `unknown_url`).")
        request_id = _h("RequestIdIfAnswered") if status in SERVER_ANSWERS else _h("RequestId")
        out["Bedrock" + name] = {
            "description": description,
            "headers": {"x-request-id": request_id, "x-client-request-id": _h("ClientRequestId"),
                        "x-amzn-RequestId": _h("AmznRequestIdIfAnswered" if either else "AmznRequestId"),
                        "x-amzn-ErrorType": _h("AmznErrorTypeIfAnswered" if either else "AmznErrorType"), **extra},
            "content": {"application/json": {"schema": schema}},
        }
    return out


def bedrock_errors(*statuses: int) -> dict[str, Schema]:
    out = {}
    for status in sorted({*statuses, *ALWAYS}):
        name = _ERROR_NAMES[status] if status in (408, 431) else "Bedrock" + _ERROR_NAMES[status]
        out[str(status)] = {"$ref": f"#/components/responses/{name}"}
    return out


def anthropic_errors(*statuses: int) -> dict[str, Schema]:
    out = {}
    for status in sorted({*statuses, *ALWAYS}):
        name = _ERROR_NAMES[status] if status in (408, 431) else "Anthropic" + _ERROR_NAMES[status]
        out[str(status)] = {"$ref": f"#/components/responses/{name}"}
    return out
# Every route can meet these: the HTTP server's own answers and our own bugs.
ALWAYS = (408, 431, 500, 503)
TEAM_AUTH = (401, 429)  # a team key: missing/unknown (401); too many failed attempts from the address (429)
ADMIN_AUTH = (401, 403, 429)  # the admin key: missing (401), wrong or disabled (403), throttled (429)


def errors(*statuses: int) -> dict[str, Schema]:
    return {str(s): {"$ref": f"#/components/responses/{_ERROR_NAMES[s]}"} for s in sorted({*statuses, *ALWAYS})}


def json_response(description: str, schema: Schema, headers: dict[str, Schema] | None = None) -> Schema:
    return {"description": description, "headers": {**ID_HEADERS, **(headers or {})},
            "content": {"application/json": {"schema": schema}}}


def json_body(schema: Schema, *, required: bool = True, examples: dict[str, Any] | None = None) -> Schema:
    media: Schema = {"schema": schema}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {"required": required, "content": {"application/json": media}}


TEAM_SECURITY = [{"bearerAuth": ["team"]}, {"apiKeyAuth": ["team"]}]
ADMIN_SECURITY = [{"bearerAuth": ["admin"]}, {"apiKeyAuth": ["admin"]}]


# --- chat completions: request -----------------------------------------------------------------------------------
CACHE_CONTROL_SCHEMA = obj(
    {"type": {"const": "ephemeral"}, "ttl": {"enum": ["5m", "1h"]}}, ["type"], closed=False,
    description="A Bedrock cache point right after this part, message or tool (the Anthropic/LiteLLM "
                "convention); dropped on models without prompt caching.",
)


def _part(kind: str, properties: dict[str, Schema], required: list[str], description: str) -> Schema:
    return obj({"type": {"const": kind}, **properties, "cache_control": ref("CacheControl")},
               ["type", *required], closed=False, description=description)


CHAT_REQUEST_SCHEMAS: dict[str, Schema] = {
    "CacheControl": CACHE_CONTROL_SCHEMA,
    "TextPart": _part("text", {"text": string()}, ["text"], "Text; blank text is dropped."),
    "RefusalPart": _part("refusal", {"refusal": string()}, ["refusal"], "A refusal, sent on as text."),
    "ImagePart": _part(
        "image_url",
        {"image_url": obj({"url": string("A base64 `data:` URL (image/png, jpeg, gif or webp; at most 3.75 MB "
                                         "decoded). http(s) URLs are not fetched: 400 `image_url_not_supported`.",
                                         minLength=1),
                           "detail": {"enum": ["auto", "low", "high"]}}, ["url"], closed=False)},
        ["image_url"], "An image, on models with vision.",
    ),
    "FilePart": _part(
        "file",
        {"file": obj({"file_data": string("A base64 `data:` URL or raw base64 (pdf, csv, doc, docx, xls, xlsx, html, "
                                          "txt, md; at most 4.5 MB decoded, 5 per request)."),
                      "filename": string("Its extension names the format when the mime type does not."),
                      "file_id": string("Not supported (no Files API): 400 `file_id_not_supported`.")},
                     closed=False)},
        ["file"], "A document, in user messages on models with document support.",
    ),
    "SystemMessage": obj(
        {"role": {"enum": ["system", "developer"]},
         "content": {"anyOf": [string(), {"type": "array", "items": ref("TextPart")}]},
         "name": string(), "cache_control": ref("CacheControl")},
        ["role", "content"], closed=False,
        description="Leading system/developer messages become Converse `system`; later ones stay in place as "
                    "user-side text.",
    ),
    "UserMessage": obj(
        {"role": {"const": "user"},
         "content": {"anyOf": [string(), {"type": "array", "items": {"anyOf": [
             ref("TextPart"), ref("ImagePart"), ref("FilePart"), ref("RefusalPart")]}}]},
         "name": string(), "cache_control": ref("CacheControl")},
        ["role", "content"], closed=False,
    ),
    "ToolCall": obj(
        {"id": string(minLength=1), "type": {"const": "function"},
         "function": obj({"name": string(minLength=1),
                          "arguments": string("A JSON object as text; empty means `{}`.")},
                         ["name"], closed=False)},
        ["id", "function"], closed=False,
    ),
    "ThinkingBlock": {"oneOf": [
        obj({"type": {"const": "thinking"}, "thinking": string(), "signature": string(),
             "index": integer()}, ["type", "thinking"], closed=False),
        obj({"type": {"const": "redacted_thinking"}, "data": string(), "index": integer()},
            ["type", "data"], closed=False),
    ]},
    "AssistantMessage": obj(
        {"role": {"const": "assistant"},
         "content": nullable({"anyOf": [string(), {"type": "array", "items": {"anyOf": [
             ref("TextPart"), ref("RefusalPart")]}}]}),
         "refusal": nullable(string()), "name": string(),
         "tool_calls": {"type": "array", "items": ref("ToolCall")},
         "reasoning_content": nullable(string("Reasoning text sent back; kept only with `reasoning_signature`.")),
         "reasoning_signature": nullable(string()),
         "thinking_blocks": {"type": "array", "items": ref("ThinkingBlock")},
         "cache_control": ref("CacheControl")},
        ["role"], closed=False,
        description="A last assistant message is a prefill on models that support it.",
    ),
    "ToolMessage": obj(
        {"role": {"const": "tool"},
         "content": nullable({"anyOf": [string(), {"type": "array", "items": {"anyOf": [
             ref("TextPart"), ref("ImagePart")]}}]}),
         "tool_call_id": string("Must match an earlier assistant tool call."),
         "cache_control": ref("CacheControl")},
        ["role", "tool_call_id"], closed=False,
    ),
    "ChatMessage": {"oneOf": [ref("SystemMessage"), ref("UserMessage"), ref("AssistantMessage"),
                              ref("ToolMessage")]},
    "FunctionDefinition": obj(
        {"name": string("Names outside `^[a-zA-Z0-9_-]{1,64}$` are mapped to safe names and back.", minLength=1),
         "description": string(), "parameters": {"type": "object", "description": "A JSON schema."},
         "strict": nullable({"type": "boolean"}), "cache_control": ref("CacheControl")},
        ["name"], closed=False,
    ),
    "Tool": obj({"type": {"const": "function"}, "function": ref("FunctionDefinition"),
                 "cache_control": ref("CacheControl")}, ["type", "function"], closed=False),
    "ToolChoice": {"anyOf": [
        {"enum": ["none", "auto", "required"]},
        obj({"type": {"const": "function"}, "function": obj({"name": string()}, ["name"], closed=False)},
            ["type", "function"], closed=False),
    ]},
    "ResponseFormat": {"oneOf": [
        obj({"type": {"enum": ["text", "json_object"]}}, ["type"], closed=False),
        obj({"type": {"const": "json_schema"},
             "json_schema": obj({"name": string(), "description": string(),
                                 "schema": {"type": "object"}, "strict": nullable({"type": "boolean"})},
                                closed=False)},
            ["type", "json_schema"], closed=False),
    ]},
    "PromptCaching": {"anyOf": [
        {"type": "boolean"},
        obj({"system": {"type": "boolean"}, "tools": {"type": "boolean"}, "messages": {"type": "boolean"},
             "ttl": {"enum": ["5m", "1h"]}}),
    ]},
}

_NEUTRAL = "Accepted only with the neutral value shown (Bedrock cannot honour others: 400 `unsupported_parameter`, " \
           "unless the gateway runs with LLM_GATEWAY_DROP_UNSUPPORTED_PARAMS=true)."

CHAT_REQUEST = obj(
    {
        "model": string("A catalog alias (`GET /v1/models`) or, where the catalog allows it, a Bedrock model id.",
                        minLength=1, examples=["claude-3-haiku"]),
        "messages": {"type": "array", "minItems": 1, "items": ref("ChatMessage")},
        "stream": nullable({"type": "boolean"}),
        "stream_options": nullable(obj({"include_usage": nullable({"type": "boolean"})}, closed=False)),
        "max_tokens": nullable(integer("Deprecated by OpenAI; `max_completion_tokens` wins.", minimum=1)),
        "max_completion_tokens": nullable(integer(minimum=1)),
        "temperature": nullable({"type": "number", "minimum": 0, "maximum": 2}),
        "top_p": nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "stop": nullable({"anyOf": [string(), {"type": "array", "items": string()}]}),
        "tools": nullable({"type": "array", "items": ref("Tool")}),
        "tool_choice": nullable(ref("ToolChoice")),
        "functions": nullable({"type": "array", "items": ref("FunctionDefinition"), "deprecated": True}),
        "function_call": nullable({"anyOf": [{"enum": ["none", "auto"]},
                                             obj({"name": string()}, ["name"], closed=False)], "deprecated": True}),
        "response_format": nullable(ref("ResponseFormat")),
        "reasoning_effort": nullable({"enum": ["low", "medium", "high"],
                                      "description": "Claude extended thinking (budget 1024/4096/16384 tokens)."}),
        # Accepted and ignored (translators/openai_bedrock/params.py IGNORED, IGNORED_TYPES).
        "user": nullable(string("Ignored.")),
        "seed": nullable(integer("Ignored.")),
        "store": nullable({"type": "boolean", "description": "Ignored."}),
        "metadata": nullable({"type": "object", "description": "Ignored."}),
        "service_tier": nullable(string("Ignored.")),
        "parallel_tool_calls": nullable({"type": "boolean", "description": "Ignored (never forwarded)."}),
        "prompt_cache_key": nullable(string("Ignored.")),
        "safety_identifier": nullable(string("Ignored.")),
        # OpenAI fields Bedrock cannot honour (params.py UNSUPPORTED): only their neutral values pass.
        "n": {"enum": [1, None], "description": _NEUTRAL},
        "logprobs": {"enum": [False, None], "description": _NEUTRAL},
        "top_logprobs": {"type": "null", "description": _NEUTRAL},
        "logit_bias": nullable({"type": "object", "maxProperties": 0, "description": _NEUTRAL}),
        "frequency_penalty": {"enum": [0, None], "description": _NEUTRAL},
        "presence_penalty": {"enum": [0, None], "description": _NEUTRAL},
        "audio": {"type": "null", "description": _NEUTRAL},
        "modalities": {"anyOf": [{"const": ["text"]}, {"type": "null"}], "description": _NEUTRAL},
        "prediction": {"type": "null", "description": _NEUTRAL},
        "web_search_options": {"type": "null", "description": _NEUTRAL},
        "verbosity": {"type": "null", "description": _NEUTRAL},
        # Bedrock extensions (params.py EXTENSIONS): top-level fields, e.g. the openai SDK's extra_body.
        "guardrailConfig": nullable(obj(
            {"guardrailIdentifier": string(minLength=1), "guardrailVersion": string(minLength=1),
             "trace": {"enum": ["enabled", "disabled", "enabled_full"]},
             "streamProcessingMode": {"enum": ["sync", "async"], "description": "Streams only."}},
            ["guardrailIdentifier", "guardrailVersion"], closed=False,
            description="Bedrock extension: Converse `guardrailConfig`.")),
        "additionalModelRequestFields": nullable({"type": "object", "description": "Bedrock extension: merged "
                                                  "into Converse `additionalModelRequestFields`."}),
        "additionalModelResponseFieldPaths": nullable({"type": "array", "items": string(),
                                                       "description": "Bedrock extension, passed through."}),
        "performanceConfig": nullable({"type": "object", "description": "Bedrock extension, passed through."}),
        "requestMetadata": nullable({"type": "object", "additionalProperties": string(),
                                     "description": "Bedrock extension, passed through."}),
        "thinking": nullable(obj({"type": {"enum": ["enabled", "disabled"]}, "budget_tokens": integer(minimum=1)},
                                 closed=False, description="Bedrock extension: Claude extended thinking.")),
        "top_k": nullable(integer("Bedrock extension: `additionalModelRequestFields.top_k`.", minimum=0)),
        "prompt_caching": nullable({**ref("PromptCaching"),
                                    "description": "Bedrock extension: cache points after the tools, system "
                                                   "and last user turn (`true`), or the sections named."}),
    },
    ["model", "messages"],
    description="OpenAI's chat-completions body as the gateway accepts it. Unknown fields are a 400 "
                "(`Unrecognized request argument supplied`), as from OpenAI.",
)
CHAT_REQUEST_SCHEMAS["ChatCompletionRequest"] = CHAT_REQUEST

CHAT_EXAMPLES: dict[str, Any] = {
    "basic": {"model": "claude-3-haiku", "messages": [{"role": "system", "content": "Be brief."},
                                                      {"role": "user", "content": "Hello"}]},
    "stream": {"model": "claude-3-5-haiku", "stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": "Tell me a story"}]},
    "tools": {"model": "claude-3-5-sonnet", "tool_choice": "auto",
              "tools": [{"type": "function", "function": {
                  "name": "get_weather", "description": "The weather in a city",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}}],
              "messages": [{"role": "user", "content": "What is the weather in Paris?"}]},
    "json_schema": {"model": "claude-3-haiku", "max_completion_tokens": 200,
                    "response_format": {"type": "json_schema", "json_schema": {
                        "name": "answer", "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
                    "messages": [{"role": "user", "content": "Give me x"}]},
    "reasoning": {"model": "claude-3-7-sonnet", "reasoning_effort": "low",
                  "messages": [{"role": "user", "content": "Think, then answer: 2+2?"}]},
}


# --- chat completions: response ----------------------------------------------------------------------------------
FINISH_REASONS = ["stop", "length", "tool_calls", "content_filter"]

CHAT_RESPONSE_SCHEMAS: dict[str, Schema] = {
    "Usage": obj(
        {"prompt_tokens": integer("Every input token: uncached, cache reads and cache writes.", minimum=0),
         "completion_tokens": integer(minimum=0), "total_tokens": integer(minimum=0),
         "prompt_tokens_details": obj({"cached_tokens": integer("Cache reads.", minimum=0),
                                       "cache_write_tokens": integer(minimum=0)},
                                      ["cached_tokens", "cache_write_tokens"])},
        ["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"],
    ),
    "GatewayMetadata": obj(
        {"team_id": string(), "latency_ms": integer(minimum=0), "cost_usd": {"type": "number", "minimum": 0},
         "provider": string(examples=["aws-bedrock"]),
         "deployment": string("The deployment that served the call (x-gateway-deployment).",
                              examples=["bedrock/anthropic.claude-3-haiku-20240307-v1:0"]),
         "priced": {"type": "boolean", "description": "false when the cost is not fully priced (an alert)."},
         "request_id": string(pattern=r"^req_[0-9a-f]{32}$")},
        ["team_id", "latency_ms", "cost_usd", "provider", "deployment", "priced", "request_id"],
        description="What the gateway adds to a completion (and to a stream's finish and usage chunks).",
    ),
    "ResponseToolCall": obj(
        {"id": string(), "type": {"const": "function"},
         "function": obj({"name": string(), "arguments": string("A JSON object as text.")}, ["name", "arguments"])},
        ["id", "type", "function"],
    ),
    "ResponseThinkingBlock": {"oneOf": [
        obj({"type": {"const": "thinking"}, "thinking": string(), "signature": string()}, ["type", "thinking"]),
        obj({"type": {"const": "redacted_thinking"}, "data": string()}, ["type", "data"]),
    ]},
    "ChatCompletionMessage": obj(
        {"role": {"const": "assistant"}, "content": nullable(string()), "refusal": {"type": "null"},
         "tool_calls": {"type": "array", "minItems": 1, "items": ref("ResponseToolCall")},
         "reasoning_content": string("Claude's reasoning text, never mixed into `content`."),
         "thinking_blocks": {"type": "array", "minItems": 1, "items": ref("ResponseThinkingBlock")}},
        ["role", "content", "refusal"],
    ),
    "ChatCompletion": obj(
        {"id": string(pattern=r"^chatcmpl-[0-9a-f]{32}$"), "object": {"const": "chat.completion"},
         "created": integer(minimum=0), "model": string("The model as the client named it."),
         "system_fingerprint": {"type": "null"},
         "choices": {"type": "array", "minItems": 1, "maxItems": 1, "items": obj(
             {"index": {"const": 0}, "message": ref("ChatCompletionMessage"),
              "finish_reason": {"enum": FINISH_REASONS}, "logprobs": {"type": "null"}},
             ["index", "message", "finish_reason", "logprobs"])},
         "usage": ref("Usage"), "gateway_metadata": ref("GatewayMetadata")},
        ["id", "object", "created", "model", "system_fingerprint", "choices", "usage", "gateway_metadata"],
    ),
    "ChunkToolCall": obj(
        {"index": integer(minimum=0), "id": string(), "type": {"const": "function"},
         "function": obj({"name": string(), "arguments": string()})},
        ["index", "function"],
    ),
    "ChunkThinkingBlock": {"oneOf": [
        obj({"type": {"const": "thinking"}, "thinking": string(), "signature": string(),
             "index": integer(minimum=0)}, ["type", "thinking", "signature", "index"]),
        obj({"type": {"const": "redacted_thinking"}, "data": string(), "index": integer(minimum=0)},
            ["type", "data", "index"]),
    ]},
    "ChatCompletionChunk": obj(
        {"id": string(pattern=r"^chatcmpl-[0-9a-f]{32}$"), "object": {"const": "chat.completion.chunk"},
         "created": integer(minimum=0), "model": string(), "system_fingerprint": {"type": "null"},
         "choices": {"type": "array", "maxItems": 1, "items": obj(
             {"index": {"const": 0},
              "delta": obj({"role": {"const": "assistant"}, "content": string(),
                            "tool_calls": {"type": "array", "items": ref("ChunkToolCall")},
                            "reasoning_content": string(),
                            "thinking_blocks": {"type": "array", "items": ref("ChunkThinkingBlock")}}),
              "finish_reason": nullable({"enum": FINISH_REASONS}), "logprobs": {"type": "null"}},
             ["index", "delta", "finish_reason", "logprobs"]),
             "description": "Empty only in the usage chunk."},
         "usage": nullable({**ref("Usage"), "description": "With `stream_options.include_usage`: null on every "
                                                           "chunk but the last, which has `choices: []`."}),
         "gateway_metadata": ref("GatewayMetadata")},
        ["id", "object", "created", "model", "system_fingerprint", "choices"],
    ),
    "ChatCompletionStreamEvent": obj(
        {"event": {"const": "message"},
         "data": {"type": "string",
                  "description": "A `chat.completion.chunk`, an error envelope (a failure after the first byte), "
                                 "or `[DONE]` last.",
                  "if": {"const": "[DONE]"},
                  "else": {"contentMediaType": "application/json",
                           "contentSchema": {"oneOf": [ref("ChatCompletionChunk"), ref("Error")]}}},
         "id": string(), "retry": integer()},
        ["data"],
        description="One server-sent event (`data: <json>`); `: keep-alive` comments may come between events.",
    ),
}


# --- models, usage, health ---------------------------------------------------------------------------------------
PRICE = nullable({"type": "number", "minimum": 0})
OTHER_SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {"error": obj({"message": string(), "type": {"enum": ERROR_TYPES}, "param": nullable(string()),
                       "code": nullable(string())}, ["message", "type", "param", "code"])},
        ["error"], description="OpenAI's error envelope: every error the gateway answers has this shape.",
    ),
    "Health": obj({"status": {"const": "healthy"}, "service": {"const": "llm-gateway"}, "timestamp": TIMESTAMP,
                   "version": string(examples=[__version__])}, ["status", "service", "timestamp", "version"]),
    "Ready": obj(
        {"status": {"enum": ["ready", "not_ready"]},
         "checks": {"type": "object", "additionalProperties": string(),
                    "description": "Each dependency (`key_store`, `usage_store`, `redis`, `provider:<name>`): "
                                   "`ok` or why not (never a URL, a key or a store's message).",
                    "examples": [{"key_store": "ok", "usage_store": "ok", "provider:bedrock": "ok"}]}},
        ["status", "checks"],
    ),
    "Model": obj(
        {"id": string("The alias clients send as `model`."), "object": {"const": "model"},
         "created": integer(minimum=0), "owned_by": string(), "provider": string(examples=["aws-bedrock"]),
         "description": string(), "bedrock_model_id": string(),
         "pricing": nullable(obj({"unit": {"const": "USD per 1K tokens"}, "input": {"type": "number", "minimum": 0},
                                  "output": {"type": "number", "minimum": 0}, "cache_read": PRICE,
                                  "cache_write": PRICE},
                                 ["unit", "input", "output", "cache_read", "cache_write"]))},
        ["id", "object", "created", "owned_by", "provider", "description", "bedrock_model_id", "pricing"],
    ),
    "ModelList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("Model")}},
                     ["object", "data"]),
    "TeamUsage": obj(
        {"team_id": string(), "team_name": string(),
         "period": obj({"days": integer(minimum=1, maximum=REPORT_MAX_DAYS), "start": DATE, "end": DATE},
                       ["days", "start", "end"]),
         "summary": obj({"total_requests": integer(minimum=0), "total_tokens": integer(minimum=0),
                         "total_cost_usd": {"type": "number", "minimum": 0},
                         "avg_daily_cost_usd": {"type": "number", "minimum": 0}},
                        ["total_requests", "total_tokens", "total_cost_usd", "avg_daily_cost_usd"]),
         "by_model": {"type": "array", "description": "One entry per model, in name order.", "items": obj(
             {"model": string(), "requests": integer(minimum=0), "tokens": integer(minimum=0),
              "prompt_tokens": integer(minimum=0), "completion_tokens": integer(minimum=0),
              "cost_usd": {"type": "number", "minimum": 0}},
             ["model", "requests", "tokens", "prompt_tokens", "completion_tokens", "cost_usd"])},
         "by_day": {"type": "array", "description": "Every day of the period, zeros included.", "items": obj(
             {"date": DATE, "requests": integer(minimum=0), "tokens": integer(minimum=0),
              "cost_usd": {"type": "number", "minimum": 0}}, ["date", "requests", "tokens", "cost_usd"])}},
        ["team_id", "team_name", "period", "summary", "by_model", "by_day"],
        description="The caller's team usage; costs are JSON numbers with 9 decimals (nano-USD).",
    ),
}


# --- the Anthropic Messages API ---------------------------------------------------------------------------------
ANTHROPIC_ERROR_TYPES = ["invalid_request_error", "authentication_error", "billing_error", "permission_error",
                         "not_found_error", "request_too_large", "rate_limit_error", "api_error", "overloaded_error",
                         "timeout_error"]
STOP_REASONS = ["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                "model_context_window_exceeded"]
_KNOWN_BLOCKS = ["text", "tool_use", "thinking", "redacted_thinking"]


def _block(kind: str, properties: dict[str, Schema], required: list[str]) -> Schema:
    return obj({"type": {"const": kind}, **properties}, ["type", *required], closed=False)


ANTHROPIC_SCHEMAS: dict[str, Schema] = {
    "AnthropicError": obj(
        {"type": {"const": "error"},
         "error": obj({"type": {"enum": ANTHROPIC_ERROR_TYPES}, "message": string()}, ["type", "message"])},
        ["type", "error"], description="Anthropic's error envelope: every error of /v1/messages the app answers.",
    ),
    "AnthropicMessageParam": obj(
        {"role": {"enum": ["user", "assistant", "system"],
                  "description": "`system` entries (Claude Code sends them) move into `system`."},
         "content": {"anyOf": [string(), {"type": "array", "items": {
             "type": "object", "required": ["type"], "properties": {"type": string()}}}]}},
        ["role", "content"], closed=False,
    ),
    "AnthropicMessagesRequest": obj(
        {"model": string("A catalog alias or Anthropic model name (`claude-sonnet-4-5-20250929`, ...).",
                         minLength=1, examples=["claude-3-haiku"]),
         "max_tokens": integer(minimum=1),
         "messages": {"type": "array", "minItems": 1, "items": ref("AnthropicMessageParam")},
         "system": {"anyOf": [string(), {"type": "array", "items": _block("text", {"text": string()}, ["text"])}]},
         "stream": nullable({"type": "boolean"}),
         "stop_sequences": {"type": "array", "items": string()},
         "temperature": {"type": "number", "minimum": 0, "maximum": 1},
         "top_p": {"type": "number", "minimum": 0, "maximum": 1},
         "top_k": integer(minimum=0),
         "tools": {"type": "array", "items": {"type": "object"}},
         "tool_choice": {"type": "object"},
         "thinking": {"type": "object"},
         "metadata": {"type": "object", "description": "Only `user_id` is passed on."},
         "output_config": {"type": "object"},
         "context_management": {"type": "object"},
         "anthropic_beta": {"anyOf": [string(), {"type": "array", "items": string()}]},
         "mcp_servers": {"type": "null", "description": "Not available on Bedrock: anything else is a 400."},
         "container": {"type": "null", "description": "Not available on Bedrock: anything else is a 400."}},
        ["model", "max_tokens", "messages"], closed=False,
        description="Anthropic's Messages body. Claude models take it natively (fields Bedrock rejects for the "
                    "model are stripped); other models go through Converse.",
    ),
    "AnthropicContentBlock": {"anyOf": [
        _block("text", {"text": string()}, ["text"]),
        _block("tool_use", {"id": string(), "name": string(), "input": {"type": "object"}},
               ["id", "name", "input"]),
        _block("thinking", {"thinking": string(), "signature": string()}, ["thinking"]),
        _block("redacted_thinking", {"data": string()}, ["data"]),
        {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "not": {
            "enum": _KNOWN_BLOCKS}}}, "description": "Other blocks Bedrock returns are passed on as they came."},
    ]},
    "AnthropicMessage": obj(
        {"id": string(), "type": {"const": "message"}, "role": {"const": "assistant"}, "model": string(),
         "content": {"type": "array", "items": ref("AnthropicContentBlock")},
         "stop_reason": nullable({"enum": STOP_REASONS}), "stop_sequence": nullable(string()),
         "usage": obj({"input_tokens": integer(minimum=0), "output_tokens": integer(minimum=0),
                       "cache_creation_input_tokens": nullable(integer(minimum=0)),
                       "cache_read_input_tokens": nullable(integer(minimum=0))},
                      ["input_tokens", "output_tokens"], closed=False)},
        ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"], closed=False,
        description="Anthropic's message; from Claude as Bedrock answered (fields it adds pass through).",
    ),
    "AnthropicStreamEventData": {"oneOf": [
        _block("message_start", {"message": ref("AnthropicMessage")}, ["message"]),
        _block("content_block_start", {"index": integer(minimum=0), "content_block": ref("AnthropicContentBlock")},
               ["index", "content_block"]),
        _block("content_block_delta", {"index": integer(minimum=0), "delta": {
            "type": "object", "required": ["type"], "properties": {"type": {"enum": [
                "text_delta", "input_json_delta", "thinking_delta", "signature_delta", "citations_delta"]}}}},
            ["index", "delta"]),
        _block("content_block_stop", {"index": integer(minimum=0)}, ["index"]),
        _block("message_delta", {"delta": obj({"stop_reason": nullable({"enum": STOP_REASONS}),
                                               "stop_sequence": nullable(string())}, closed=False),
                                 "usage": {"type": "object"}}, ["delta"]),
        _block("message_stop", {}, []),
        _block("ping", {}, []),
        ref("AnthropicError"),
    ]},
    "AnthropicStreamEvent": obj(
        {"event": {"enum": ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                            "message_delta", "message_stop", "ping", "error"]},
         "data": {"type": "string", "contentMediaType": "application/json",
                  "contentSchema": ref("AnthropicStreamEventData")},
         "id": string(), "retry": integer()},
        ["event", "data"],
        description="`event: <type>` then `data: <json>` whose `type` repeats it; `ping` in silent stretches, "
                    "`error` for a failure after the first byte. The stream ends with `message_stop`.",
    ),
    "AnthropicTokenCount": obj({"input_tokens": integer(minimum=0)}, ["input_tokens"]),
    "AnthropicModel": obj({"type": {"const": "model"}, "id": string(), "display_name": string(),
                           "created_at": TIMESTAMP}, ["type", "id", "display_name", "created_at"],
                          description="Anthropic's model object (with an `anthropic-version` header)."),
    "AnthropicModelList": obj(
        {"data": {"type": "array", "items": ref("AnthropicModel")}, "has_more": {"const": False},
         "first_id": nullable(string()), "last_id": nullable(string())},
        ["data", "has_more", "first_id", "last_id"]),
}


# --- Bedrock Runtime's own routes (pass-through) -------------------------------------------------------------------
BEDROCK_OPERATIONS = ["invoke", "invoke-with-response-stream", "converse", "converse-stream"]
BEDROCK_SCHEMAS: dict[str, Schema] = {
    "BedrockError": obj({"message": string()}, ["message"],
                        description="Bedrock's error body; `x-amzn-ErrorType` names the exception an AWS SDK raises."),
    "InferenceProfiles": obj({"inferenceProfileSummaries": {"type": "array", "items": {"type": "object"},
                                                            "description": "None: the gateway lists no profiles."},
                              "nextToken": string()}, ["inferenceProfileSummaries"]),
}


# --- admin: teams and keys ---------------------------------------------------------------------------------------
LIMIT_VALUE = nullable(integer(minimum=1, maximum=MAX_LIMIT))
MONEY_IN = {"anyOf": [{"type": "number", "minimum": 0, "maximum": MAX_BUDGET_USD},
                      string(pattern=r"^[0-9]+(\.[0-9]{1,9})?$"), {"type": "null"}],
            "description": f"US dollars a month (at most {MAX_BUDGET_USD:,}, 9 decimals), as a number or a decimal "
                           "string; null for no budget."}
MONEY_OUT = {"type": ["number", "string", "null"],
             "description": "US dollars a month; null for no budget (a string only for a value stored before the "
                            "current bounds existed)."}
TEXT = string(maxLength=MAX_TEXT)
MODELS_IN = nullable({"type": "array", "items": string(minLength=1, maxLength=MAX_TEXT),
                      "description": "Model names; null for every model."})
TAGS_IN = {"type": "object", "additionalProperties": string(maxLength=MAX_TEXT),
           "propertyNames": {"maxLength": MAX_TEXT}}
EXPIRES_IN = nullable(string("An ISO 8601 timestamp (without an offset: UTC); null for no expiry.",
                             format="date-time", examples=["2030-01-31T00:00:00Z"]))
KEY_ID = string("`key_` + 12 letters or digits.", pattern=r"^key_[A-Za-z0-9]{12}$", examples=["key_AbC123dEf456"])

KEY_PROPERTIES: dict[str, Schema] = {
    "object": {"const": "api_key"}, "key_id": KEY_ID, "team_id": string(pattern=ID_PATTERN),
    "prefix": string("The secret's first 10 characters (safe to show).", minLength=1, maxLength=10),
    "name": string(), "status": {"enum": ["active", "revoked"]},
    "created_at": TIMESTAMP, "last_used_at": nullable(TIMESTAMP), "expires_at": nullable(TIMESTAMP),
    "limits": ref("Limits"), "monthly_budget_usd": MONEY_OUT,
    "allowed_models": nullable({"type": "array", "items": string()}),
}
KEY_REQUIRED = list(KEY_PROPERTIES)
SECRET = string("The secret: `sk-gw-` + 48 random base62 characters + a 6-character checksum.",
                pattern=r"^sk-gw-[A-Za-z0-9]{54}$")

ADMIN_SCHEMAS: dict[str, Schema] = {
    "Limits": obj({name: nullable(integer(minimum=1)) for name in ("rpm", "tpm", "max_concurrency")},
                  ["rpm", "tpm", "max_concurrency"], description="null: no limit at this level."),
    "LimitsInput": obj({name: LIMIT_VALUE for name in ("rpm", "tpm", "max_concurrency")},
                       description="Requests and tokens per minute, concurrent requests; null for no limit. "
                                   "On a change, the fields given are merged into the current limits."),
    "Team": obj(
        {"object": {"const": "team"}, "team_id": string(pattern=ID_PATTERN), "team_name": string(),
         "cost_center": nullable(string()), "limits": ref("Limits"), "monthly_budget_usd": MONEY_OUT,
         "allowed_models": nullable({"type": "array", "items": string()}),
         "tags": {"type": "object", "additionalProperties": string()},
         "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
        ["object", "team_id", "team_name", "cost_center", "limits", "monthly_budget_usd", "allowed_models", "tags",
         "created_at", "updated_at"],
    ),
    "TeamList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("Team")}},
                    ["object", "data"]),
    "TeamCreate": obj(
        {"team_id": string("1-64 of `A-Za-z0-9_.-`, starting with a letter or digit.", pattern=ID_PATTERN,
                           examples=["acme"]),
         "team_name": string("Not blank.", minLength=1, maxLength=MAX_TEXT, pattern=r"\S"),
         "cost_center": nullable(TEXT), "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
         "allowed_models": MODELS_IN, "tags": TAGS_IN},
        ["team_id", "team_name"],
        description="Unset `rpm`/`tpm` get LLM_GATEWAY_DEFAULT_RPM/_TPM.",
    ),
    "TeamUpdate": obj(
        {"team_name": string("Not blank.", minLength=1, maxLength=MAX_TEXT, pattern=r"\S"),
         "cost_center": nullable(TEXT), "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
         "allowed_models": MODELS_IN, "tags": TAGS_IN},
        description="Any create field but `team_id`; `limits` merges.",
    ),
    "TeamDeleted": obj(
        {"object": {"const": "team.deleted"}, "team_id": string(), "deleted": {"const": True},
         "revoked_key_ids": {"type": "array", "items": string(),
                             "description": "The team's keys, revoked (kept for audit)."}},
        ["object", "team_id", "deleted", "revoked_key_ids"],
    ),
    "ApiKey": obj(KEY_PROPERTIES, KEY_REQUIRED, description="A key's public view: never its hash, never its secret."),
    "ApiKeyList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("ApiKey")}},
                      ["object", "data"]),
    "NewApiKey": obj({"key": SECRET, **KEY_PROPERTIES}, ["key", *KEY_REQUIRED],
                     description="A created key, with its secret (shown this once, never again)."),
    "RotatedApiKey": obj(
        {"key": SECRET, **KEY_PROPERTIES, "rotated_from": ref("ApiKey")}, ["key", *KEY_REQUIRED, "rotated_from"],
        description="The new key (same settings) with its secret and, in `rotated_from`, the old one: revoked now "
                    "(grace 0) or expiring after the grace period.",
    ),
    "KeyCreate": {
        **obj({"team_id": string("An existing team.", pattern=ID_PATTERN, examples=["acme"]), "name": TEXT,
               "expires_at": EXPIRES_IN,
               "expires_in_days": nullable({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DAYS,
                                            "description": "Instead of `expires_at`."}),
               "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
               "allowed_models": {**MODELS_IN, "description": "Narrows the team's allow-list."}},
              ["team_id"]),
        "not": {"required": ["expires_at", "expires_in_days"],
                "properties": {"expires_at": {"type": "string"}, "expires_in_days": {"type": "number"}}},
        "description": "`expires_at` or `expires_in_days`, not both.",
    },
    "KeyUpdate": obj(
        {"name": TEXT, "expires_at": EXPIRES_IN, "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
         "allowed_models": MODELS_IN},
        description="`limits` merges.",
    ),
    "KeyRotate": obj({"grace_seconds": integer("0: the old key is revoked now; else it expires after this long.",
                                               minimum=0, maximum=MAX_GRACE_SECONDS)}),
    "UsageReport": obj(
        {"from": DATE, "to": DATE, "group_by": {"enum": ["team", "cost_center", "model", "day"]},
         "team_id": nullable(string()),
         "data": {"type": "array", "items": obj(
             {"group": string("The team id, cost center (`(none)` if unset), model or day."),
              **{name: integer(minimum=0) for name in ("requests", "prompt_tokens", "completion_tokens",
                                                       "cached_tokens", "cache_write_tokens", "total_tokens",
                                                       "errors")},
              "cost_usd": string("Exact decimal USD.", pattern=r"^[0-9]+(\.[0-9]+)?$")},
             ["group", "requests", "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens",
              "total_tokens", "errors", "cost_usd"])}},
        ["from", "to", "group_by", "team_id", "data"],
        description="Costs are exact strings.",
    ),
}


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
