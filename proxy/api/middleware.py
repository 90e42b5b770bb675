"""Request id for every response: pure ASGI, so streams pass through untouched."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy.ids import random_hex

_SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")  # fullmatch: `$` would also accept a final newline


def new_request_id() -> str:
    return "req_" + random_hex()


class RequestIdMiddleware:
    """Gives every request its own id (x-request-id) and echoes a sane client id as x-client-request-id.

    The gateway's id is also the usage record's idempotency key, so it must never come from the client:
    a client that reused one id would otherwise have its later requests dropped as duplicates.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        extra = [(b"x-request-id", request_id.encode())]
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        if incoming and _SAFE_ID.fullmatch(incoming):
            extra.append((b"x-client-request-id", incoming))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_id)
