"""The admin key (LLM_GATEWAY_ADMIN_KEY), compared in constant time.

Team keys never pass; without an admin key configured the admin API is disabled (403, clear message).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from proxy.auth.authenticator import extract_secret
from proxy.auth.throttle import FailureThrottle
from proxy.errors import AuthenticationFailed, PermissionDenied

DISABLED_MESSAGE = "The admin API is disabled: set LLM_GATEWAY_ADMIN_KEY to enable it."
MISSING_MESSAGE = "You didn't provide the admin key (Authorization: Bearer <LLM_GATEWAY_ADMIN_KEY>)."
DENIED_MESSAGE = "This endpoint requires the admin key; team API keys cannot use it."


def _digest(value: str) -> bytes:
    # equal-length digests: the comparison leaks neither content nor length
    return hashlib.sha256(value.encode()).digest()


# Strings from the docs and examples an operator might paste; refused at startup like short keys.
DOCUMENTED_KEYS = frozenset({"changeme", "admin", "secret", "sk-admin-e2e", "admin-secret", "your-admin-key"})
MIN_ADMIN_KEY_LENGTH = 32
ADMIN_FAILURES_PER_MINUTE = 10


def weak_admin_key(admin_key: str | None) -> str | None:
    """Why the configured admin key is too weak to start with, or None."""
    if not admin_key:
        return None
    if len(admin_key) < MIN_ADMIN_KEY_LENGTH:
        return f"LLM_GATEWAY_ADMIN_KEY has {len(admin_key)} characters; use at least {MIN_ADMIN_KEY_LENGTH}"
    if admin_key.lower() in DOCUMENTED_KEYS or len(set(admin_key)) < 8:
        return "LLM_GATEWAY_ADMIN_KEY is a documented example or a repetition; generate a random one"
    return None


class AdminGuard:
    def __init__(self, admin_key: str | None, *, failures_per_minute: int = ADMIN_FAILURES_PER_MINUTE) -> None:
        self._digest = _digest(admin_key) if admin_key else None
        self.throttle = FailureThrottle(failures_per_minute)

    def check(self, headers: Mapping[str, str], client: str | None = None) -> None:
        if self._digest is None:
            raise PermissionDenied(DISABLED_MESSAGE, code="admin_disabled")
        self.throttle.check(client)  # refused before the comparison: guessing from there learns nothing
        try:
            provided = extract_secret(headers)
        except AuthenticationFailed:
            raise AuthenticationFailed(MISSING_MESSAGE) from None
        if not hmac.compare_digest(_digest(provided), self._digest):
            self.throttle.failed(client)
            raise PermissionDenied(DENIED_MESSAGE, code="admin_key_required")
