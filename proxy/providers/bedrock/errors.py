"""Bedrock error code -> GatewayError: one table, decided once.

Codes arrive as ``ThrottlingException`` (REST error header) or ``throttlingException`` (the member name
of an in-stream exception event), so they are compared case-insensitively. Bedrock's own message is
shown to the caller only where it describes the caller's request (validation, unknown model); for our
own misconfiguration (access denied) the caller gets a generic message and the log gets the detail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from proxy.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    ModelNotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

log = logging.getLogger("llm_gateway.bedrock")

# Bedrock does not say how long to back off; one second lets the openai SDK's retry land after a refill.
THROTTLE_RETRY_AFTER_S = 1.0
_ON_DEMAND_HINT = "on-demand throughput"


class UpstreamStreamError(GatewayError):
    """An error after the stream started (exception event or truncated stream); carries the mapped status."""

    def __init__(self, message: str, *, cause: GatewayError | None = None) -> None:
        super().__init__(message, code=UpstreamError.code, type=UpstreamError.type)
        self.status = UpstreamError.status
        self.retry_after_s: float | None = None
        self.cause = cause
        if cause is not None:
            self.status = cause.status
            self.type = cause.type
            self.code = cause.code
            self.param = cause.param
            self.headers.update(cause.headers)
            self.retry_after_s = getattr(cause, "retry_after_s", None)

    @classmethod
    def from_error(cls, err: GatewayError) -> UpstreamStreamError:
        return cls(err.message, cause=err)


def _validation(message: str) -> GatewayError:
    if _ON_DEMAND_HINT in message.lower():
        message += " (use an inference profile id such as us.<model> instead of the bare model id)"
    return InvalidRequest(message, code="invalid_request")


def _not_found(message: str) -> GatewayError:
    return ModelNotFound(message or "The model was not found upstream.")


def _access_denied(message: str) -> GatewayError:
    return InternalError("The gateway is not permitted to call this model upstream. Contact the operator.")


def _throttled(message: str) -> GatewayError:
    return RateLimited(
        "Upstream capacity for this model is exhausted; retry shortly.",
        retry_after_s=THROTTLE_RETRY_AFTER_S,
        type="requests",
        code="rate_limit_exceeded",
    )


def _unavailable(message: str) -> GatewayError:
    return UpstreamUnavailable("The model is temporarily unavailable upstream; retry shortly.")


def _timeout(message: str) -> GatewayError:
    return UpstreamTimeout("The model did not answer in time.")


def _upstream(message: str) -> GatewayError:
    return UpstreamError("The model failed to produce a response.")


_TABLE: dict[str, Callable[[str], GatewayError]] = {
    "validationexception": _validation,
    "resourcenotfoundexception": _not_found,
    "accessdeniedexception": _access_denied,
    "unrecognizedclientexception": _access_denied,
    "throttlingexception": _throttled,
    "servicequotaexceededexception": _throttled,
    "modelnotreadyexception": _unavailable,
    "serviceunavailableexception": _unavailable,
    "modeltimeoutexception": _timeout,
    "modelstreamerrorexception": _upstream,
    "modelerrorexception": _upstream,
    "internalserverexception": _upstream,
}

# Used when the error body names no code (a proxy in between, a bare 5xx).
_BY_STATUS: dict[int, str] = {
    400: "validationexception",
    403: "accessdeniedexception",
    404: "resourcenotfoundexception",
    408: "modeltimeoutexception",
    424: "modelerrorexception",
    429: "throttlingexception",
    503: "serviceunavailableexception",
}


def normalize_code(raw: str | None) -> str:
    """``ValidationException:http://internal...`` / ``com.amazon#ValidationException`` -> the bare code."""
    if not raw:
        return ""
    code = raw.split(":", 1)[0]
    return code.rsplit("#", 1)[-1].strip()


def map_bedrock_error(
    code: str, message: str, status: int | None = None, *, request_id: str | None = None
) -> GatewayError:
    """Translate a Bedrock error (REST error or in-stream exception) to the error the client sees."""
    key = normalize_code(code).lower()
    if key not in _TABLE and status is not None:
        key = _BY_STATUS.get(status, key)
    factory = _TABLE.get(key, _upstream)
    err = factory(message or "")
    level = logging.ERROR if err.status >= 500 and err.status != 503 else logging.WARNING
    log.log(
        level,
        "bedrock error request_id=%s code=%s upstream_status=%s mapped_status=%s message=%s",
        request_id, code or "-", status, err.status, message,
    )
    return err
