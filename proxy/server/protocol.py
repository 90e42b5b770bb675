"""GatewayHttpProtocol: uvicorn's httptools protocol with limits on what one client can hold.

Per connection, one phase and one deadline, watched by at most one timer handle:

    IDLE       connected, no request yet          closed (silently) idle_timeout_s after the connection's start
    HEAD       request line + headers arriving    408, header_timeout_s after the request's first byte
                                                   (after the connection's start for the first request)
    BODY       request body arriving              408 (if no response started), body_timeout_s of silence
                                                   or body_deadline_s after the headers, however steady
    NONE       request received, app answering    no deadline (streams may be long)
    KEEPALIVE  between requests                   closed keepalive_timeout_s after the last response
    DRAIN      answered, client still sending     closed keepalive_timeout_s after the response
    LINGER     our error was sent                 input discarded, closed after LINGER_S

The timer is lazy: moving a deadline later only writes ``_deadline``; the timer, when it fires early,
re-arms itself for the remainder. A keep-alive connection under steady traffic re-arms about once per
keep-alive period, not per request (uvicorn's own keep-alive timer, which this replaces, is one per request).

The request line + headers are counted in ``data_received`` (raw bytes, so one huge unfinished header is
caught too); past ``max_header_bytes`` the client gets 431. Malformed HTTP gets 400 and a process past its
caps gets 503 server_overloaded with retry-after: 1, all in OpenAI's envelope (responses.py), then the
connection is half-closed and lingers briefly so the client reads the answer instead of a reset.

At ``max_connections`` a new connection first closes the oldest connection that holds nothing: never
started a request, idle between requests, answered while still sending, or stuck in its headers for
SLOW_HEAD_S; only if there is none does it get 503. So idle or slow sockets cannot lock real clients out.
Connections lingering after our error answer do not count (at most MAX_LINGERING of them, LINGER_S each).

Written against uvicorn 0.54's HttpToolsProtocol (``data_received``, ``on_response_complete`` and
``send_400_response`` are replaced, the parser callbacks extended); tests/e2e/test_http_hardening.py and
tests/unit/server/ hold it to that.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from proxy import http_stats
from proxy.errors import (
    GatewayError,
    InvalidRequest,
    Overloaded,
    RequestHeaderFieldsTooLarge,
    RequestTimeout,
)
from proxy.server.limits import DEFAULT_LIMITS, HttpLimits
from proxy.server.responses import error_response

log = logging.getLogger("llm_gateway.http")

IDLE, HEAD, BODY, NONE, KEEPALIVE, DRAIN, LINGER = range(7)
PHASE_NAMES = ("idle", "head", "body", "none", "keepalive", "drain", "linger")

LINGER_S = 1.0  # after our error response: read and drop input this long, so the client sees the answer
MAX_LINGERING = 512  # beyond this many lingering connections the oldest is closed at once (bounds the fds)
SLOW_HEAD_S = 1.0  # a head in progress this long may be closed to make room at the connection cap
_EARLY_S = 0.001  # timers may fire this much before their deadline


class Registry:
    """The connections of one server (one process) that a new connection may close at the cap."""

    __slots__ = ("closing", "heads", "idle", "kept", "shutting_down")

    def __init__(self) -> None:
        self.shutting_down = False
        self.closing: OrderedDict[GatewayHttpProtocol, float] = OrderedDict()  # lingering after our error answer
        self.idle: OrderedDict[GatewayHttpProtocol, float] = OrderedDict()  # no request yet, or answered
        self.kept: OrderedDict[GatewayHttpProtocol, float] = OrderedDict()  # keep-alive between requests
        self.heads: OrderedDict[GatewayHttpProtocol, float] = OrderedDict()  # head in progress, since when

    def evict_one(self, now: float) -> bool:
        """Close the oldest connection that holds nothing; False if every connection is busy."""
        for bucket in (self.idle, self.kept):
            while bucket:
                victim, _ = bucket.popitem(last=False)
                victim.bucket = None
                if victim.evict():
                    return True
        heads = self.heads
        while heads:
            victim, since = next(iter(heads.items()))
            if now - since < SLOW_HEAD_S:
                break
            heads.popitem(last=False)
            victim.bucket = None
            if victim.evict():
                return True
        return False


    def shutdown_started(self, config: Config) -> None:
        """Once per server, when uvicorn stops accepting and asks every connection to finish (SIGTERM)."""
        if self.shutting_down:
            return
        self.shutting_down = True
        hook = getattr(config, "on_shutdown", None)
        if hook is not None:
            try:
                hook(float(getattr(config, "drain_deadline_s", 0.0)))
            except Exception:
                log.exception("the shutdown hook failed")


_registries: weakref.WeakKeyDictionary[ServerState, Registry] = weakref.WeakKeyDictionary()


def registry_for(server_state: ServerState) -> Registry:
    registry = _registries.get(server_state)
    if registry is None:
        registry = _registries[server_state] = Registry()
    return registry


class GatewayHttpProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection; ``config.http_limits`` (proxy/server/run.py GatewayConfig) sets the limits."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits: HttpLimits = getattr(config, "http_limits", DEFAULT_LIMITS)
        self.max_head = limits.max_header_bytes
        self.header_timeout = limits.header_timeout_s
        self.body_timeout = limits.body_timeout_s
        self.body_deadline = limits.body_deadline_s
        self.body_end = 0.0  # the whole body's deadline, for the request in BODY
        self.idle_timeout = limits.idle_timeout_s
        self.keepalive_timeout = limits.keepalive_timeout_s
        self.max_connections = limits.max_connections
        self.max_in_flight = limits.max_in_flight
        self.registry = registry_for(server_state)
        self.bucket: OrderedDict[GatewayHttpProtocol, float] | None = None
        self.phase = IDLE
        self.started_at = 0.0
        self.first_request = True
        self.in_head = True  # the bytes arriving belong to a request line + headers
        self.head_left = self.max_head
        self.lingering = False
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0

    # --- deadlines ------------------------------------------------------------------------------
    def arm(self, deadline: float) -> None:
        self.deadline = deadline
        timer = self.timer
        if timer is None:
            self.timer = self.loop.call_at(deadline, self.on_timer)
            self.timer_at = deadline
        elif deadline < self.timer_at:
            timer.cancel()
            self.timer = self.loop.call_at(deadline, self.on_timer)
            self.timer_at = deadline

    def on_timer(self) -> None:
        self.timer = None
        phase = self.phase
        if phase == NONE or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.deadline - now > _EARLY_S:
            self.arm(self.deadline)
            return
        cycle = self.cycle
        if phase == BODY and (self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue)):
            # The app is not reading (yet): the silence is ours, not the client's; so is the time lost.
            self.body_end = max(self.body_end, now + self.body_timeout)
            self.arm(now + self.body_timeout)
            return
        if phase == HEAD:
            log.debug("closing %s: request headers not received in %.1fs", self.peer(), self.header_timeout)
            self.reject(RequestTimeout("The request headers were not received in time."))
        elif phase == BODY:
            log.debug("closing %s: request body silent for %.1fs", self.peer(), self.body_timeout)
            self.reject(RequestTimeout("The request body was not received in time."))
        else:  # IDLE, KEEPALIVE, DRAIN, LINGER
            if phase != LINGER:
                http_stats.REJECTIONS["idle_closed"] += 1
            self.transport.close()

    def enter(self, bucket: OrderedDict[GatewayHttpProtocol, float], since: float) -> None:
        if self.bucket is not None:
            self.bucket.pop(self, None)
        bucket[self] = since
        self.bucket = bucket

    def leave(self) -> None:
        if self.bucket is not None:
            self.bucket.pop(self, None)
            self.bucket = None

    def keep_alive(self) -> None:
        now = self.loop.time()
        self.phase = KEEPALIVE
        self.enter(self.registry.kept, now)
        self.arm(now + self.keepalive_timeout)

    # --- connection -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        http_stats.OPEN["connections"] += 1
        now = self.started_at = self.loop.time()
        registry = self.registry
        # Lingering connections (already answered, closing within LINGER_S) do not count against the cap.
        if len(self.connections) - len(registry.closing) > self.max_connections and not registry.evict_one(now):
            log.debug("rejecting %s: %d connections open", self.peer(), len(self.connections) - 1)
            self.reject(Overloaded("This gateway process has too many open connections; retry shortly."))
            return
        self.enter(self.registry.idle, now)
        self.arm(now + self.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        http_stats.OPEN["connections"] -= 1
        self.phase = NONE
        self.leave()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def evict(self) -> bool:
        """Close this connection to make room for a new one; False if it is closing already."""
        if self.transport.is_closing():
            return False
        http_stats.REJECTIONS["evicted"] += 1
        if self.phase == HEAD and self.may_answer():
            self.transport.write(error_response(
                RequestTimeout("The request headers were not received in time."), self.server_state.default_headers
            ))
        self.lingering = True
        self.stop_cycles()
        self.transport.close()
        return True

    def peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    # --- input ----------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return
        if self.in_head:
            size = len(data)
            if size > self.head_left:
                self.feed_bounded(data)
                return
            self.head_left -= size
        self.feed(data)

    def feed_bounded(self, data: bytes) -> None:
        """Feed ``data`` when it is more than the head budget left: the head must end within the budget."""
        view = memoryview(data)
        while view:
            if not self.in_head:
                self.feed(view)
                return
            room = self.head_left
            if len(view) <= room:
                self.head_left -= len(view)
                self.feed(view)
                return
            self.head_left = 0
            self.feed(view[:room])
            if self.lingering or self.transport.is_closing():
                return
            if self.in_head and self.head_left == 0:
                log.debug("rejecting %s: request head over %d bytes", self.peer(), self.max_head)
                self.reject(RequestHeaderFieldsTooLarge(
                    f"The request line and headers are larger than the {self.max_head} bytes this gateway accepts."
                ))
                return
            view = view[room:]

    def feed(self, data: bytes | memoryview) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _unsupported_upgrade_warning(self) -> None:
        log.debug("unsupported upgrade request from %s", self.peer())  # no log line per client request

    # --- parser callbacks ------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.lingering:
            return
        now = self.loop.time()
        start = self.started_at if self.first_request else now
        self.first_request = False
        self.phase = HEAD
        self.enter(self.registry.heads, now)
        self.arm(start + self.header_timeout)
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self.lingering:
            return
        self.in_head = False
        self.leave()
        self.phase = BODY
        now = self.loop.time()
        self.body_end = now + self.body_deadline
        self.arm(min(now + self.body_timeout, self.body_end))
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.lingering:
            return
        if self.phase == BODY:
            # Later: the armed timer re-arms itself. Never past the whole body's deadline.
            self.deadline = min(self.loop.time() + self.body_timeout, self.body_end)
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.lingering:
            return
        self.in_head = True
        self.head_left = self.max_head
        if self.cycle.response_complete:
            self.keep_alive()  # answered before the body ended (DRAIN); the connection may be reused
        else:
            self.phase = NONE
        super().on_message_complete()

    # --- requests ---------------------------------------------------------------------------------
    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any, finishing: int = 0) -> None:
        # ``finishing``: the task that calls us from on_response_complete is done with its answer.
        if len(self.tasks) - finishing >= self.max_in_flight:
            log.debug("rejecting a request from %s: %d requests in flight", self.peer(), len(self.tasks))
            self.reject(Overloaded("This gateway process has too many requests in flight; retry shortly."))
            return
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        # uvicorn 0.54's, with our deadlines instead of its keep-alive timer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app, finishing=1)
        elif self.phase == NONE:
            self.keep_alive()
        elif self.phase == BODY:
            # Answered before the request body ended: the client gets keepalive_timeout_s to finish it.
            now = self.loop.time()
            self.phase = DRAIN
            self.enter(self.registry.idle, now)
            self.arm(now + self.keepalive_timeout)
        # HEAD: the next request is arriving, its header deadline runs.

    def shutdown(self) -> None:
        # uvicorn calls this on every connection right after it stops accepting (graceful shutdown).
        self.registry.shutdown_started(self.config)
        super().shutdown()

    def timeout_keep_alive_handler(self) -> None:  # pragma: no cover - uvicorn's timer is never armed here
        if not self.transport.is_closing():
            self.transport.close()

    # --- our own answers --------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        log.debug("rejecting %s: %s", self.peer(), msg)
        self.reject(InvalidRequest("The request is not valid HTTP/1.1.", code="invalid_request"))

    def may_answer(self) -> bool:
        """True unless a response is partly written (our answer would corrupt it)."""
        cycle = self.cycle
        return cycle is None or cycle.response_complete or not cycle.response_started

    def stop_cycles(self) -> None:
        """The app's requests on this connection see a disconnect; their later sends are dropped."""
        cycles = [c for c, _ in self.pipeline]
        if self.cycle is not None:
            cycles.append(self.cycle)
        for cycle in cycles:
            if not cycle.response_complete:
                cycle.disconnected = True
                cycle.keep_alive = False
                cycle.message_event.set()
        self.pipeline.clear()

    def reject(self, error: GatewayError) -> None:
        """Answer ``error`` (when no response is partly written), then half-close and linger."""
        if self.lingering:
            return
        transport = self.transport
        if transport.is_closing():
            return
        http_stats.REJECTIONS[error.code or "error"] += 1
        if self.may_answer():
            transport.write(error_response(error, self.server_state.default_headers))
        self.stop_cycles()
        self.lingering = True
        self.in_head = False
        now = self.loop.time()
        self.phase = LINGER
        closing = self.registry.closing
        self.enter(closing, now)
        while len(closing) > MAX_LINGERING:
            oldest, _ = closing.popitem(last=False)
            oldest.bucket = None
            oldest.transport.close()
        self.flow.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()
            self.arm(now + LINGER_S)
        else:
            transport.close()
