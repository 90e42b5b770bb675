"""Our own bugs become one 500 in the client's envelope and one log line, never a re-raise.

Starlette's handler for ``Exception`` renders the response and then re-raises, so the server logged the
same traceback a second time (hardening #7: one 11 KB request wrote 308 KB of log). This pure ASGI
middleware sits inside Starlette's ServerErrorMiddleware and ends the exception here.
"""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy.errors import InternalError
from proxy.pipeline.messages import anthropic_error

log = logging.getLogger("llm_gateway")


class UnexpectedErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = scope.get("state", {}).get("request_id", "-")
            log.exception("unhandled error request_id=%s path=%s", request_id, scope.get("path", ""))
            if started:
                return  # the response is under way: the server closes the connection
            error = InternalError(f"The server had an error while processing your request (request id {request_id}).")
            anthropic = str(scope.get("path", "")).startswith("/v1/messages")  # the client's own envelope
            body = orjson.dumps(anthropic_error(error) if anthropic else error.body())
            # x-request-id is added by RequestIdMiddleware, which wraps this one (proxy/app.py).
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"request-id", request_id.encode())]})
            await send({"type": "http.response.body", "body": body})
