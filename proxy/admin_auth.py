"""Admin authentication: the configured LLM_GATEWAY_ADMIN_KEY, compared in constant time.

Team keys never pass; without an admin key configured the admin API is disabled (403, clear message).
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from proxy.auth import extract_secret
from proxy.errors import AuthenticationFailed, PermissionDenied

DISABLED_MESSAGE = "The admin API is disabled: set LLM_GATEWAY_ADMIN_KEY to enable it."
MISSING_MESSAGE = "You didn't provide the admin key (Authorization: Bearer <LLM_GATEWAY_ADMIN_KEY>)."
DENIED_MESSAGE = "This endpoint requires the admin key; team API keys cannot use it."


def _digest(value: str) -> bytes:
    # equal-length digests: the comparison leaks neither content nor length
    return hashlib.sha256(value.encode()).digest()


def require_admin(request: Request) -> None:
    admin_key = request.app.state.services.settings.admin_key
    if not admin_key:
        raise PermissionDenied(DISABLED_MESSAGE, code="admin_disabled")
    try:
        provided = extract_secret(request.headers)
    except AuthenticationFailed:
        raise AuthenticationFailed(MISSING_MESSAGE) from None
    if not hmac.compare_digest(_digest(provided), _digest(admin_key)):
        raise PermissionDenied(DENIED_MESSAGE, code="admin_key_required")
