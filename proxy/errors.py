"""GatewayError hierarchy and its OpenAI-shaped rendering.

Handlers raise these; one exception handler in ``app.py`` renders them as
``{"error": {"message", "type", "param", "code"}}`` with the right status and headers.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base class: an error the client should see, with OpenAI's envelope."""

    status: int = 500
    type: str = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if type is not None:
            self.type = type
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(GatewayError):
    """400: the request cannot be served as sent (bad JSON, bad parameter, untranslatable content)."""

    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    """401: missing, unknown, revoked or expired API key."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    """403: the key is valid but may not do this (model outside its allow-list, admin endpoint)."""

    status = 403
    type = "invalid_request_error"
    code = "model_not_allowed"


class NotFound(GatewayError):
    """404: no such route or resource."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    """404: the model name is neither a catalog alias nor an allowed Bedrock id."""

    code = "model_not_found"


class MethodNotAllowed(GatewayError):
    """405: the route exists but not for this HTTP method."""

    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class Conflict(GatewayError):
    """409: the resource already exists or changed underneath."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


class PayloadTooLarge(GatewayError):
    """413: the request body exceeds LLM_GATEWAY_MAX_BODY_BYTES."""

    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RequestTimeout(GatewayError):
    """408: the client did not send its request line, headers or body in time (proxy/server/)."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class RequestHeaderFieldsTooLarge(GatewayError):
    """431: the request line + headers exceed LLM_GATEWAY_HTTP_MAX_HEADER_BYTES (proxy/server/)."""

    status = 431
    type = "invalid_request_error"
    code = "request_header_fields_too_large"


class RateLimited(GatewayError):
    """429: a rate limit (type "requests"/"tokens") or Bedrock throttling; carries Retry-After."""

    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s
        if retry_after_s is not None:
            # Whole seconds, never 0: the SDK sleeps this long before its retry.
            self.headers.setdefault("retry-after", str(max(1, int(-(-retry_after_s // 1)))))
            self.headers.setdefault("retry-after-ms", str(max(1, int(retry_after_s * 1000))))


class QuotaExceeded(GatewayError):
    """429 insufficient_quota: the team's (or key's) budget for the period is spent."""

    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"


class InternalError(GatewayError):
    """500: our own fault (misconfiguration, bug); details go to the log, never to the client."""

    status = 500
    type = "api_error"
    code = "internal_error"


class UpstreamError(GatewayError):
    """502: Bedrock failed in a way that is not the client's fault."""

    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamUnavailable(GatewayError):
    """503: Bedrock (or a dependency under a fail-closed policy) is unavailable; retryable."""

    status = 503
    type = "api_error"
    code = "service_unavailable"


class Overloaded(GatewayError):
    """503: this gateway process cannot keep up right now (its own backlog, not a dependency); retryable."""

    status = 503
    type = "api_error"
    code = "server_overloaded"

    def __init__(self, message: str, *, retry_after_s: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("retry-after", str(retry_after_s))


class ShuttingDown(GatewayError):
    """503: the process is draining (SIGTERM) and this call outlasted the deadline; retry elsewhere."""

    status = 503
    type = "api_error"
    code = "server_shutting_down"

    def __init__(self, message: str = "The gateway is restarting and could not finish this call in time; retry.",
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("retry-after", "1")


class UpstreamTimeout(GatewayError):
    """504: Bedrock did not answer in time."""

    status = 504
    type = "api_error"
    code = "upstream_timeout"
