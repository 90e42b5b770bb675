"""create_app(): routes, lifespan and the one place errors become OpenAI-shaped responses."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy import __version__
from proxy.admin import teams_keys as admin
from proxy.admin import usage as admin_usage
from proxy.api import usage as usage_api
from proxy.api.chat import chat_completions
from proxy.api.metrics import metrics_endpoint
from proxy.api.middleware import RequestIdMiddleware
from proxy.api.models import get_model, list_models
from proxy.errors import GatewayError, InternalError, MethodNotAllowed, NotFound
from proxy.services import Services, build_services, close_services
from proxy.settings import Settings

log = logging.getLogger("llm_gateway")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({
        "status": "healthy",
        "service": "llm-gateway",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "version": __version__,
    })


def error_response(request: Request, exc: GatewayError) -> Response:
    return Response(orjson.dumps(exc.body()), status_code=exc.status, headers=exc.headers,
                    media_type="application/json")


async def on_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.metrics.count_error(exc.status, exc.code)
    return error_response(request, exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: GatewayError = MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}.")
    elif exc.status_code == 404:
        error = NotFound(f"Invalid URL ({request.method} {request.url.path})", code="unknown_url")
    else:
        error = GatewayError(str(exc.detail))
        error.status = exc.status_code
    return error_response(request, error)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # The detail goes to the log with the request id; the client only learns that it was our fault.
    request_id = request.scope.get("state", {}).get("request_id", "-")
    log.exception("unhandled error request_id=%s", request_id)
    error = InternalError(f"The server had an error while processing your request (request id {request_id}).")
    response = error_response(request, error)
    response.headers["x-request-id"] = request_id
    return response


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Starlette:
    """The ASGI app; ``services`` lets tests inject ready-made dependencies (else built in the lifespan)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        built = await build_services(settings or Settings.from_env())
        app.state.services = built
        try:
            yield
        finally:
            await close_services(built)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/chat", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/v1/usage", usage_api.usage_endpoint, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *admin.routes,
        *admin_usage.routes,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            GatewayError: on_gateway_error,
            HTTPException: on_http_exception,
            Exception: on_unexpected,
        },
    )
    app.add_middleware(RequestIdMiddleware)
    return app


def create_app_from_env() -> Starlette:
    """uvicorn --factory entry point (one process per worker)."""
    return create_app(Settings.from_env())
