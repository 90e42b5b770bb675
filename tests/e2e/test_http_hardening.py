"""The HTTP layer against abusive clients (proxy/server/): real `llm-gateway serve` processes, raw sockets.

Oversized and slow headers, idle connections, stalled and never-ending bodies, connection and in-flight
caps, malformed HTTP, trailing-slash URLs, the server banner; and a real client served during an attack.
Timeouts are set to about a second through LLM_GATEWAY_HTTP_*, so the whole module runs in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import DEMO_KEY, Gateway, GatewayFactory

pytestmark = pytest.mark.e2e

SHORT = {
    "LLM_GATEWAY_HTTP_MAX_HEADER_BYTES": "16384",
    "LLM_GATEWAY_HTTP_HEADER_TIMEOUT_S": "1",
    "LLM_GATEWAY_HTTP_BODY_TIMEOUT_S": "1",
    "LLM_GATEWAY_HTTP_IDLE_TIMEOUT_S": "1",
    "LLM_GATEWAY_HTTP_KEEPALIVE_TIMEOUT_S": "1",
}
AUTH = f"Authorization: Bearer {DEMO_KEY}\r\n".encode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed (or half-closed) the connection after this answer

    def error(self) -> dict[str, object]:
        envelope = json.loads(self.body)
        assert set(envelope) == {"error"}
        assert set(envelope["error"]) == {"message", "type", "param", "code"}
        return dict(envelope["error"])


def address(gateway: Gateway) -> tuple[str, int]:
    url = urlparse(gateway.url)
    assert url.hostname and url.port
    return url.hostname, url.port


@contextlib.contextmanager
def connect(gateway: Gateway, timeout: float = 10) -> Iterator[socket.socket]:
    sock = socket.create_connection(address(gateway), timeout=timeout)
    try:
        yield sock
    finally:
        sock.close()


def read_answer(sock: socket.socket, timeout: float = 5, buffer: bytearray | None = None) -> Answer:
    """One HTTP response (content-length bodies only), then whether the connection ends right after it.

    ``buffer`` carries bytes read past this response to the next call: pipelined answers may arrive in
    one segment, and dropping the second one's bytes would wait for an answer already received.
    """
    sock.settimeout(timeout)
    data = bytes(buffer or b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a full response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"duplicate header {name}"
        headers[name.lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    body, extra = rest[:length], rest[length:]
    if buffer is not None:
        buffer[:] = extra
    closed = False
    if headers.get("connection") == "close":
        sock.settimeout(2)
        try:
            closed = extra == b"" and sock.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            closed = False
    return Answer(status, headers, body, closed)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reading and dropping what it sends); fails past ``seconds``."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {seconds}s") from None
    return time.monotonic() - started


@pytest.fixture(scope="module")
def hardened(start_gateway: GatewayFactory) -> Gateway:
    """Short limits: 16 KiB heads, 1 s header/body/idle/keep-alive timeouts."""
    return start_gateway(**SHORT)


# --- headers ------------------------------------------------------------------------------------
def test_oversized_headers_get_431_in_the_envelope_then_close(hardened: Gateway) -> None:
    with connect(hardened) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + AUTH + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        answer = read_answer(sock)
    assert answer.status == 431
    assert answer.headers["content-type"] == "application/json"
    error = answer.error()
    assert error["type"] == "invalid_request_error" and error["code"] == "request_header_fields_too_large"
    assert error["param"] is None
    assert answer.closed


def test_one_endless_header_value_is_cut_at_the_limit(hardened: Gateway) -> None:
    """8 MB of one header that never ends: answered and closed after the limit, not buffered."""
    with connect(hardened) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent, answer = 0, b""
        sock.settimeout(0.01)
        deadline = time.monotonic() + 10
        while sent < 8 * 1024 * 1024 and time.monotonic() < deadline:
            try:
                sent += sock.send(b"b" * 65536)
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        assert sent < 8 * 1024 * 1024, "the gateway accepted 8 MB of one header"
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"code":"request_header_fields_too_large"' in answer


def test_headers_trickled_byte_by_byte_are_cut_by_the_header_timeout(hardened: Gateway) -> None:
    request = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 100
    with connect(hardened) as sock:
        started = time.monotonic()
        sock.settimeout(0.1)
        received = b""
        for byte in request:
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            received += chunk
            if not chunk:
                break
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"a 1 s header timeout closed the connection after {elapsed:.1f}s"
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b'"code":"request_timeout"' in received


def test_malformed_request_line_gets_400_in_the_envelope(hardened: Gateway) -> None:
    with connect(hardened) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        answer = read_answer(sock)
    assert answer.status == 400
    error = answer.error()
    assert error["code"] == "invalid_request" and error["type"] == "invalid_request_error"
    assert answer.closed
    assert "server" not in answer.headers


# --- idle and keep-alive ----------------------------------------------------------------------
def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(hardened: Gateway) -> None:
    with connect(hardened) as sock:
        elapsed = closed_within(sock, 5)
    assert 0.7 < elapsed < 2.5


def test_empty_lines_do_not_keep_an_idle_connection_open(hardened: Gateway) -> None:
    with connect(hardened) as sock:
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for _ in range(30):
                sock.send(b"\r\n")
                time.sleep(0.1)
        elapsed = closed_within(sock, 5) + (time.monotonic() - started)
    assert elapsed < 4


@pytest.fixture(scope="module")
def patient(start_gateway: GatewayFactory) -> Gateway:
    """A 3 s keep-alive: room for a loaded CI machine between requests, still short enough to time."""
    return start_gateway(**{**SHORT, "LLM_GATEWAY_HTTP_KEEPALIVE_TIMEOUT_S": "3"})


def test_keep_alive_serves_several_requests_then_closes_when_idle(patient: Gateway) -> None:
    with connect(patient) as sock:
        for _ in range(3):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).status == 200
            time.sleep(0.2)  # well under the 3 s keep-alive even on a loaded CI machine, more than nothing
        # Two requests in one packet (pipelined) are both answered.
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
        pending = bytearray()
        assert read_answer(sock, buffer=pending).status == 200
        assert read_answer(sock, buffer=pending).status == 200
        elapsed = closed_within(sock, 8)
    assert 2.5 < elapsed < 5.5


# --- bodies -----------------------------------------------------------------------------------
CHUNKED_POST = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n")


def test_a_stalled_chunked_body_is_closed_after_the_body_timeout(hardened: Gateway) -> None:
    with connect(hardened) as sock:
        sock.sendall(CHUNKED_POST + AUTH + b"\r\n" + b"5\r\n{\"mod\r\n")
        started = time.monotonic()
        answer = read_answer(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert answer.status == 408 and answer.error()["code"] == "request_timeout"
    assert answer.closed
    assert 0.7 < elapsed < 2.5


def test_a_steadily_trickling_body_is_cut_at_the_whole_body_deadline(start_gateway: GatewayFactory) -> None:
    """A chunk every 0.5 s never trips the 1 s silence timeout; the 2 s whole-body deadline cuts it."""
    gateway = start_gateway(**{**SHORT, "LLM_GATEWAY_HTTP_BODY_DEADLINE_S": "2"})
    with connect(gateway) as sock:
        sock.sendall(CHUNKED_POST + AUTH + b"\r\n")
        started = time.monotonic()
        answer = None
        while time.monotonic() - started < 6:
            try:
                sock.sendall(b"1\r\n \r\n")
            except OSError:
                break
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                if sock.recv(1, socket.MSG_PEEK):
                    answer = read_answer(sock, timeout=2)
                    break
        elapsed = time.monotonic() - started
    assert answer is not None and answer.status == 408 and answer.error()["code"] == "request_timeout"
    assert 1.5 < elapsed < 4
    metrics = gateway.admin().get("/metrics").text
    assert 'llm_gateway_http_rejections_total{reason="request_timeout"} 1' in metrics
    assert "llm_gateway_http_connections " in metrics


def test_a_never_ending_body_is_cut_once_answered(hardened: Gateway) -> None:
    """No key: 401 at once; chunks that keep coming afterwards do not keep the connection open."""
    with connect(hardened) as sock:
        sock.sendall(CHUNKED_POST + b"\r\n" + b"1\r\n{\r\n")
        assert read_answer(sock).status == 401
        started = time.monotonic()
        sock.settimeout(0.2)
        closed = False
        while time.monotonic() - started < 5:
            try:
                sock.send(b"1\r\n \r\n")
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        elapsed = time.monotonic() - started
    assert closed and elapsed < 2.5, f"closed={closed} after {elapsed:.1f}s"


# --- URLs and banners -------------------------------------------------------------------------
def test_trailing_slash_is_a_404_envelope_not_a_redirect(hardened: Gateway) -> None:
    for path in ("/v1/models/", "/health/", "/v1/chat/completions/"):
        with connect(hardened) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: evil.example\r\n".encode() + AUTH + b"\r\n")
            answer = read_answer(sock)
        assert answer.status == 404, path
        assert "location" not in answer.headers
        assert answer.error()["code"] == "unknown_url"


def test_no_server_banner(hardened: Gateway) -> None:
    with connect(hardened) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n")
        answer = read_answer(sock)
    assert answer.status == 200
    assert "server" not in answer.headers
    assert "date" in answer.headers and "x-request-id" in answer.headers


# --- caps ---------------------------------------------------------------------------------------
def open_busy_request(gateway: Gateway) -> socket.socket:
    """An authenticated POST whose body is still arriving: a request in flight the app is reading."""
    sock = socket.create_connection(address(gateway), timeout=10)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n" + AUTH + b"\r\n{\"model\"")
    return sock


def get_models(gateway: Gateway) -> Answer:
    with connect(gateway) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + AUTH + b"\r\n")
        return read_answer(sock)


def test_connection_cap_answers_503_with_retry_after(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(LLM_GATEWAY_HTTP_MAX_CONNECTIONS="3")
    busy = [open_busy_request(gateway) for _ in range(3)]
    try:
        time.sleep(0.3)
        with connect(gateway) as sock:
            answer = read_answer(sock)  # answered on connect, before it sends anything
        assert answer.status == 503
        assert answer.headers["retry-after"] == "1"
        error = answer.error()
        assert error["code"] == "server_overloaded" and error["type"] == "api_error"
        assert answer.closed
    finally:
        for sock in busy:
            sock.close()
    time.sleep(0.3)
    assert get_models(gateway).status == 200


def test_idle_sockets_at_the_cap_make_room_for_real_clients(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(LLM_GATEWAY_HTTP_MAX_CONNECTIONS="5")
    idle = [socket.create_connection(address(gateway), timeout=10) for _ in range(5)]
    try:
        time.sleep(0.3)
        for round_ in range(3):
            assert get_models(gateway).status == 200  # at the cap: the oldest idle connection makes room
            idle[round_].settimeout(1)
            assert idle[round_].recv(1) == b""
            idle.append(socket.create_connection(address(gateway), timeout=10))  # back to the cap
            time.sleep(0.1)
        for sock in idle[3:]:
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # the younger ones are still open
    finally:
        for sock in idle:
            sock.close()


def test_in_flight_cap_answers_503_with_retry_after(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(LLM_GATEWAY_HTTP_MAX_IN_FLIGHT="2")
    busy = [open_busy_request(gateway) for _ in range(2)]
    try:
        time.sleep(0.3)
        answer = get_models(gateway)
        assert answer.status == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.error()["code"] == "server_overloaded"
        assert answer.closed
    finally:
        for sock in busy:
            sock.close()
    time.sleep(0.3)
    assert get_models(gateway).status == 200


# --- a real client during an attack -------------------------------------------------------------
async def slowloris(host: str, port: int, stop: asyncio.Event) -> None:
    with contextlib.suppress(OSError):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for byte in b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000:
                if stop.is_set() or reader.at_eof():
                    return
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        finally:
            writer.close()


async def oversized(host: str, port: int, stop: asyncio.Event) -> None:
    with contextlib.suppress(OSError):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(128):  # up to 8 MB
                if stop.is_set() or reader.at_eof():
                    return
                writer.write(b"b" * 65536)
                await writer.drain()
        finally:
            writer.close()


async def test_a_real_client_is_served_during_slowloris_and_oversized_headers(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(LLM_GATEWAY_HTTP_HEADER_TIMEOUT_S="5")
    host, port = address(gateway)
    stop = asyncio.Event()
    attackers = [asyncio.create_task(slowloris(host, port, stop)) for _ in range(50)]
    attackers += [asyncio.create_task(oversized(host, port, stop)) for _ in range(5)]
    try:
        await asyncio.sleep(1.0)  # all attack connections are open and sending
        assert sum(not task.done() for task in attackers[:50]) == 50
        latencies = []
        for _ in range(5):
            started = time.monotonic()
            answer = await asyncio.to_thread(get_models, gateway)
            latencies.append(time.monotonic() - started)
            assert answer.status == 200
            await asyncio.sleep(0.1)
        assert max(latencies) < 1.0, latencies
    finally:
        stop.set()
        await asyncio.gather(*attackers, return_exceptions=True)
