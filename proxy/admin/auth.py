"""One way to guard every admin route: ``admin_only`` checks the process's AdminGuard (proxy/auth/admin_key.py),
built once by the composition root (proxy/services.py)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


def require_admin(request: Request) -> None:
    client = request.client.host if request.client is not None else None
    request.app.state.services.admin_guard.check(request.headers, client)


def admin_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        require_admin(request)
        return await handler(request)

    return guarded
