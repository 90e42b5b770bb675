"""Errors and the Anthropic error envelope.

The translators raise the same TranslationError / StreamIncomplete as translators/openai_bedrock (message,
param, code), so the proxy has one exception to catch; on /v1/messages it renders them with ``error_body``.
"""

from __future__ import annotations

from typing import Any

from translators.openai_bedrock.errors import StreamIncomplete, TranslationError

__all__ = ["StreamIncomplete", "TranslationError", "error_body", "error_type_for_status"]

# HTTP status -> Anthropic error.type (https://docs.anthropic.com/en/api/errors).
_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type_for_status(status: int) -> str:
    """Anthropic's error.type for an HTTP status; other 4xx are invalid requests, other 5xx api errors."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def error_body(error_type: str, message: str) -> dict[str, Any]:
    """Anthropic's error envelope, for an HTTP error body and (as JSON) an SSE `error` event's data."""
    return {"type": "error", "error": {"type": error_type, "message": message}}
