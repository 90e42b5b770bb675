"""Request id for every response: pure ASGI, so streams pass through untouched."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


class RequestIdMiddleware:
    """Takes a sane incoming x-request-id or makes one; stores it in scope state; echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = incoming.decode() if incoming and _SAFE_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
