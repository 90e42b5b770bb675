"""Building blocks of the OpenAPI document: schema helpers, errors, headers, security."""

from __future__ import annotations

from typing import Any

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


