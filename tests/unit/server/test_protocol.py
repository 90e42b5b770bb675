"""GatewayHttpProtocol with an in-memory transport: exact head accounting, phases, deadlines, caps."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from uvicorn.server import ServerState

from proxy.server.limits import HttpLimits
from proxy.server.protocol import GatewayHttpProtocol
from proxy.server.run import GatewayConfig

LIMITS = HttpLimits(max_header_bytes=200, header_timeout_s=0.2, body_timeout_s=0.2, idle_timeout_s=0.2,
                    keepalive_timeout_s=0.2, max_connections=3, max_in_flight=2)


class Transport(asyncio.Transport):
    def __init__(self, protocol: GatewayHttpProtocol | None = None) -> None:
        super().__init__()
        self.protocol = protocol
        self.written = bytearray()
        self.closed = False
        self.eof = False
        self.reading = True

    def write(self, data: Any) -> None:
        assert not self.closed and not self.eof
        self.written += data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.protocol is not None:
                asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def responses(self) -> list[int]:
        return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", bytes(self.written))]


class Server:
    """One server's state; connections are protocol + transport pairs on the running loop."""

    def __init__(self, app: Any = None, limits: HttpLimits = LIMITS) -> None:
        self.state = ServerState()
        self.config = GatewayConfig(app or ok_app, http_limits=limits, log_config=None, lifespan="off")
        self.config.load()

    def connect(self) -> tuple[GatewayHttpProtocol, Transport]:
        protocol = GatewayHttpProtocol(self.config, self.state, {}, asyncio.get_running_loop())
        transport = Transport(protocol)
        protocol.connection_made(transport)
        return protocol, transport


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def request(head_size: int, path: bytes = b"/") -> bytes:
    """A GET whose request line + headers are exactly ``head_size`` bytes."""
    start = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Pad: "
    pad = head_size - len(start) - 4
    assert pad >= 0
    return start + b"p" * pad + b"\r\n\r\n"


def envelope(transport: Transport) -> dict[str, Any]:
    body = bytes(transport.written).split(b"\r\n\r\n", 1)[1]
    return dict(json.loads(body)["error"])


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --- the head limit -----------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
async def test_a_head_of_exactly_the_limit_is_served_however_it_is_split(chunk: int) -> None:
    _, transport = Server().connect()
    data = request(200)
    for i in range(0, len(data), chunk):
        transport.protocol.data_received(data[i:i + chunk])  # type: ignore[union-attr]
    await settle()
    assert transport.responses() == [200]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
async def test_one_byte_over_the_limit_is_431_however_it_is_split(chunk: int) -> None:
    protocol, transport = Server().connect()
    data = request(201)
    for i in range(0, len(data), chunk):
        protocol.data_received(data[i:i + chunk])
    await settle()
    assert transport.responses() == [431]
    assert envelope(transport)["code"] == "request_header_fields_too_large"
    assert transport.eof  # half-closed: the client reads the answer, then we close


async def test_an_unfinished_header_is_cut_without_buffering_it() -> None:
    protocol, transport = Server().connect()
    protocol.data_received(b"GET / HTTP/1.1\r\nX-Endless: ")
    for _ in range(1000):
        protocol.data_received(b"e" * 65536)
    assert transport.responses() == [431]


async def test_a_body_in_the_same_packet_does_not_count_as_head() -> None:
    protocol, transport = Server().connect()
    body = b"x" * 5000
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + body)
    await settle()
    assert transport.responses() == [200]


async def test_pipelined_requests_in_one_packet_are_all_served() -> None:
    protocol, transport = Server().connect()
    protocol.data_received(request(150) * 5)
    for _ in range(5):
        await settle()
    assert transport.responses() == [200] * 5


async def test_malformed_http_is_400_in_the_envelope() -> None:
    protocol, transport = Server().connect()
    protocol.data_received(b"\x00\x01\x02 nonsense\r\n\r\n")
    assert transport.responses() == [400]
    assert envelope(transport) == {"message": "The request is not valid HTTP/1.1.", "type": "invalid_request_error",
                                   "param": None, "code": "invalid_request"}
    assert b"connection: close" in transport.written


# --- deadlines ----------------------------------------------------------------------------------
async def test_idle_connection_is_closed_silently() -> None:
    _, transport = Server().connect()
    await asyncio.sleep(0.1)
    assert not transport.closed
    await asyncio.sleep(0.2)
    assert transport.closed and transport.written == b""


async def test_slow_head_is_408_from_the_connection_start() -> None:
    protocol, transport = Server().connect()
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\n":
        if transport.eof:
            break
        protocol.data_received(bytes([byte]))
        await asyncio.sleep(0.01)
    assert transport.responses() == [408]
    assert envelope(transport)["code"] == "request_timeout"
    await asyncio.sleep(1.1)  # the linger ends
    assert transport.closed


async def test_stalled_body_is_408_and_the_app_sees_a_disconnect() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect":
                return

    protocol, transport = Server(app).connect()
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
    await asyncio.sleep(0.1)
    protocol.data_received(b"67")  # a chunk moves the deadline
    await asyncio.sleep(0.15)
    assert transport.responses() == []
    await asyncio.sleep(0.15)
    assert transport.responses() == [408]
    await settle()
    assert seen[-1] == {"type": "http.disconnect"}


async def test_a_steadily_trickling_body_is_cut_at_the_whole_body_deadline() -> None:
    """A byte every 0.1 s never trips the 0.2 s silence timeout; the 0.5 s whole-body deadline cuts it."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect":
                return

    limits = HttpLimits(**{**LIMITS.__dict__, "body_deadline_s": 0.5})
    protocol, transport = Server(app, limits).connect()
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    for _ in range(4):
        await asyncio.sleep(0.1)
        protocol.data_received(b"x")
    assert transport.responses() == []  # 0.4 s in: silence never exceeded 0.2 s
    for _ in range(3):
        await asyncio.sleep(0.1)
        if not transport.closed:
            protocol.data_received(b"x")
    await asyncio.sleep(0.1)
    assert transport.responses() == [408]
    await settle()
    assert seen[-1] == {"type": "http.disconnect"}


async def test_keep_alive_then_closed_and_a_second_request_gets_a_fresh_header_deadline() -> None:
    protocol, transport = Server().connect()
    await asyncio.sleep(0.15)
    protocol.data_received(request(100))
    await settle()
    await asyncio.sleep(0.15)  # 0.3 s after the connection's start: the second request has its own deadline
    protocol.data_received(request(100))
    await settle()
    assert transport.responses() == [200, 200]
    assert not transport.closed
    await asyncio.sleep(0.25)
    assert transport.closed


async def test_answered_early_a_never_ending_body_is_cut() -> None:
    async def reject(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    protocol, transport = Server(reject).connect()
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(8):
        await asyncio.sleep(0.05)
        if transport.closed:
            break
        protocol.data_received(b"1\r\nx\r\n")
    assert transport.responses() == [401]
    assert transport.closed


# --- caps ---------------------------------------------------------------------------------------
async def test_at_the_connection_cap_the_oldest_idle_connection_makes_room() -> None:
    server = Server()
    pairs = [server.connect() for _ in range(3)]
    pairs[1][0].data_received(request(100))  # keep-alive after this
    await settle()
    _, newest = server.connect()
    assert pairs[0][1].closed and not pairs[1][1].closed  # the never-used one goes first
    assert newest.responses() == []


async def test_when_no_connection_is_idle_a_new_one_gets_503() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(10)

    server = Server(slow, HttpLimits(**{**LIMITS.__dict__, "max_in_flight": 10}))
    pairs = [server.connect() for _ in range(3)]
    for protocol, _ in pairs:
        protocol.data_received(request(100))
    await settle()
    for _ in range(3):  # connections rejected earlier (lingering) neither count nor make room
        _, newest = server.connect()
        assert newest.responses() == [503]
        assert envelope(newest)["code"] == "server_overloaded"
        assert b"retry-after: 1\r\n" in newest.written
    for protocol, transport in pairs:
        assert not transport.closed
        protocol.connection_lost(None)


async def test_beyond_the_in_flight_cap_a_request_gets_503() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(10)

    server = Server(slow)
    pairs = [server.connect() for _ in range(3)]
    for protocol, _ in pairs:
        protocol.data_received(request(100))
    await settle()
    assert [t.responses() for _, t in pairs] == [[], [], [503]]
    for protocol, _ in pairs:
        protocol.connection_lost(None)


# --- shutdown -------------------------------------------------------------------------------------
async def test_shutdown_calls_the_hook_once_per_server_with_the_drain_deadline() -> None:
    calls: list[float] = []
    server = Server()
    server.config.on_shutdown = calls.append
    server.config.drain_deadline_s = 25.0
    pairs = [server.connect() for _ in range(3)]
    for protocol, _ in pairs:
        protocol.shutdown()  # what uvicorn does for every connection once it stops accepting
    assert calls == [25.0]
    assert all(transport.closed for _, transport in pairs)  # idle ones close at once


def test_build_config_leaves_a_margin_for_booking() -> None:
    from proxy.server.limits import DEFAULT_LIMITS
    from proxy.server.run import build_config

    config = build_config("proxy.app:create_app_from_env", limits=DEFAULT_LIMITS, host="127.0.0.1", port=1,
                          on_shutdown=print, timeout_graceful_shutdown=30)
    assert config.on_shutdown is print and config.drain_deadline_s == 25
    assert config.server_header is False and config.ws == "none" and config.limit_concurrency is None
    assert config.http is GatewayHttpProtocol
