"""An OpenAI-format upstream's error answer -> the GatewayError the client sees.

The request's own faults (400, 422: a bad parameter the upstream names) reach the client with the
upstream's message, param and code: another deployment would answer them the same. What is about this
deployment and not the request (its key refused, its deployment missing, its quota spent) is the
gateway's misconfiguration: the client gets a 502 without the upstream's words (which may name the
deployment or the key), the log gets them, and the router (proxy/pipeline/routing.py) tries elsewhere.
"""

from __future__ import annotations

import logging
from typing import Any

from proxy.errors import (
    GatewayError,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

log = logging.getLogger("llm_gateway.openai_format")

DEFAULT_RETRY_AFTER_S = 1.0
MAX_MESSAGE_CHARS = 2000  # an upstream's message reaches the client; bound what a broken one can send


def _retry_after(headers: Any) -> float | None:
    """retry-after-ms (OpenAI's and Azure's) wins over retry-after (seconds); HTTP dates are ignored."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


def upstream_error(status: int, data: Any, headers: Any, *, provider: str, request_id: str) -> GatewayError:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or "")[:MAX_MESSAGE_CHARS]
    code = error.get("code")
    code = str(code) if code is not None else None
    param = error.get("param") if isinstance(error.get("param"), str) else None
    if status in (400, 413, 422):
        return InvalidRequest(message or "The upstream rejected the request.", param=param,
                              code=code or "invalid_request")
    log.warning("upstream error provider=%s status=%d code=%s request_id=%s message=%r",
                provider, status, code, request_id, message)
    if status == 429 and code != "insufficient_quota":
        retry_after = _retry_after(headers)
        return RateLimited("The upstream is throttling requests; retry shortly.",
                           retry_after_s=DEFAULT_RETRY_AFTER_S if retry_after is None else retry_after,
                           code="upstream_throttled", type="requests")
    if status in (408, 504):
        return UpstreamTimeout("The model did not answer in time.")
    if status in (502, 503):
        return UpstreamUnavailable("The upstream service is unavailable; retry shortly.")
    if status >= 500:
        return UpstreamError("The upstream service had an error; retry shortly.")
    # 401/403/404/429 insufficient_quota and the rest: this deployment, not the request.
    return UpstreamError(f"The upstream refused the gateway's call ({status}); the operator has been told.",
                         code="upstream_refused")
