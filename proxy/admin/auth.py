"""Admin authentication, one way for every admin route: the configured LLM_GATEWAY_ADMIN_KEY.

Compared in constant time. Team keys never pass; without an admin key configured the admin API is
disabled (403, clear message). Routes opt in with ``admin_only``; the guard itself is built once by
the composition root (proxy/services.py).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from proxy.auth.authenticator import extract_secret
from proxy.errors import AuthenticationFailed, PermissionDenied

DISABLED_MESSAGE = "The admin API is disabled: set LLM_GATEWAY_ADMIN_KEY to enable it."
MISSING_MESSAGE = "You didn't provide the admin key (Authorization: Bearer <LLM_GATEWAY_ADMIN_KEY>)."
DENIED_MESSAGE = "This endpoint requires the admin key; team API keys cannot use it."

Handler = Callable[[Request], Awaitable[Response]]


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


def require_admin(request: Request) -> None:
    request.app.state.services.admin_guard.check(request.headers)


def admin_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        require_admin(request)
        return await handler(request)

    return guarded
