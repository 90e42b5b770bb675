"""create_app(): routes, lifespan and the one place errors become OpenAI-shaped responses."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy import __version__
from proxy.admin import teams_keys as admin
from proxy.admin import usage as admin_usage
from proxy.api import usage as usage_api
from proxy.api.bedrock import inference_profiles, passthrough
from proxy.api.chat import chat_completions
from proxy.api.embeddings import create_embeddings
from proxy.api.errors_middleware import UnexpectedErrorMiddleware
from proxy.api.messages import count_tokens, messages
from proxy.api.metrics import metrics_endpoint
from proxy.api.middleware import RequestIdMiddleware
from proxy.api.models import get_model, list_models
from proxy.api.openapi import openapi_endpoint
from proxy.api.ready import ready
from proxy.errors import GatewayError, MethodNotAllowed, NotFound
from proxy.services import Services, build_services, close_services
from proxy.settings import Settings

log = logging.getLogger("llm_gateway")


class _NonEmptyPath(Convertor[str]):
    """A path parameter of at least one character: `/v1/models/` is an unknown URL, not an empty model id."""

    regex = ".+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("nonempty_path", _NonEmptyPath())


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


async def on_client_disconnect(request: Request, exc: Exception) -> Response:
    # The client left while sending its body (or the HTTP server closed it: LLM_GATEWAY_HTTP_BODY_TIMEOUT_S).
    # Nobody reads this answer; no traceback either (one per abandoned upload would flood the log).
    log.debug("client disconnected while sending %s %s", request.method, request.url.path)
    return Response(status_code=400)


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
        Route("/ready", ready, methods=["GET"]),
        Route("/openapi.json", openapi_endpoint, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/chat", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", create_embeddings, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/model/{model_id:path}/{operation}", passthrough, methods=["POST"]),
        Route("/inference-profiles", inference_profiles, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:nonempty_path}", get_model, methods=["GET"]),
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
            ClientDisconnect: on_client_disconnect,
        },
    )
    # A URL with a trailing slash is unknown (404 envelope), never a 307 whose Location echoes the Host header.
    app.router.redirect_slashes = False
    app.add_middleware(UnexpectedErrorMiddleware)  # inside RequestIdMiddleware: its 500 carries the id
    app.add_middleware(RequestIdMiddleware)
    return app


def create_app_from_env() -> Starlette:
    """uvicorn --factory entry point (one process per worker)."""
    return create_app(Settings.from_env())
