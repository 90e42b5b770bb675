"""The admin key (LLM_GATEWAY_ADMIN_KEY), compared in constant time.

Team keys never pass; without an admin key configured the admin API is disabled (403, clear message).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from proxy.auth.authenticator import extract_secret
from proxy.errors import AuthenticationFailed, PermissionDenied

DISABLED_MESSAGE = "The admin API is disabled: set LLM_GATEWAY_ADMIN_KEY to enable it."
MISSING_MESSAGE = "You didn't provide the admin key (Authorization: Bearer <LLM_GATEWAY_ADMIN_KEY>)."
DENIED_MESSAGE = "This endpoint requires the admin key; team API keys cannot use it."


def _digest(value: str) -> bytes:
    # equal-length digests: the comparison leaks neither content nor length
    return hashlib.sha256(value.encode()).digest()


class AdminGuard:
    def __init__(self, admin_key: str | None) -> None:
        self._digest = _digest(admin_key) if admin_key else None

    def check(self, headers: Mapping[str, str]) -> None:
        if self._digest is None:
            raise PermissionDenied(DISABLED_MESSAGE, code="admin_disabled")
        try:
            provided = extract_secret(headers)
        except AuthenticationFailed:
            raise AuthenticationFailed(MISSING_MESSAGE) from None
        if not hmac.compare_digest(_digest(provided), self._digest):
            raise PermissionDenied(DENIED_MESSAGE, code="admin_key_required")
