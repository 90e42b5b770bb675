"""serve(): uvicorn (httptools + uvloop) with GatewayHttpProtocol and the LLM_GATEWAY_HTTP_* limits.

uvicorn.run() builds its own Config, so this is its single-process / multi-worker tail with our Config:
GatewayConfig carries the limits into every worker (the config is pickled into spawned workers, and the
protocol class travels by reference).
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from proxy.server.limits import HttpLimits
from proxy.server.protocol import GatewayHttpProtocol

DRAIN_MARGIN_S = 5  # of the graceful shutdown, kept for booking the calls the drain ended and the lifespan


class GatewayConfig(uvicorn.Config):
    """uvicorn's Config plus the per-process HTTP limits the protocol reads, and the shutdown hook.

    ``on_shutdown(deadline_s)`` runs once per process when the server stops accepting (SIGTERM): the CLI
    passes the call pipeline's drain (proxy/pipeline/drain.py). A module-level function, so it reaches
    spawned workers by reference like the rest of the config.
    """

    def __init__(self, app: Any, *, http_limits: HttpLimits, on_shutdown: Callable[[float], None] | None = None,
                 drain_deadline_s: float = 0.0, **kwargs: Any) -> None:
        self.http_limits = http_limits
        self.on_shutdown = on_shutdown
        self.drain_deadline_s = drain_deadline_s
        super().__init__(app, **kwargs)


def build_config(
    app: str,
    *,
    limits: HttpLimits,
    host: str,
    port: int,
    workers: int = 1,
    log_level: str = "info",
    access_log: bool = False,
    factory: bool = True,
    timeout_graceful_shutdown: int = 30,
    log_config: dict[str, Any] | None = LOGGING_CONFIG,
    on_shutdown: Callable[[float], None] | None = None,
) -> GatewayConfig:
    """``log_config``: uvicorn's dictConfig (its default), or None to keep the root logging set up by the caller.
    ``on_shutdown(deadline_s)``: see GatewayConfig; the deadline leaves DRAIN_MARGIN_S of the graceful shutdown."""
    return GatewayConfig(
        app,
        http_limits=limits,
        on_shutdown=on_shutdown,
        drain_deadline_s=max(0.0, timeout_graceful_shutdown - DRAIN_MARGIN_S),
        factory=factory,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=log_config,
        access_log=access_log,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
        http=GatewayHttpProtocol,
        # The gateway serves no WebSocket route: no upgrade path (and none of its own limits) to defend.
        ws="none",
        server_header=False,
        # Our protocol enforces the caps and answers 503 in the envelope; uvicorn's would be plain text.
        limit_concurrency=None,
        # Unused by GatewayHttpProtocol (its own keep-alive deadline); uvicorn's int for completeness.
        timeout_keep_alive=max(1, math.ceil(limits.keepalive_timeout_s)),
    )


def run(config: GatewayConfig) -> None:
    """Serve until a signal; the tail of uvicorn.run() for our config."""
    server = uvicorn.Server(config=config)
    if config.workers > 1:
        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
        return
    config.load_app()
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
