"""Abusive clients against one gateway process (default LLM_GATEWAY_HTTP_* limits), on loopback.

    .venv/bin/python benchmarks/probe_http_abuse.py

For each attack: the gateway's RSS before / peak / after (VmRSS of /proc/PID/status, sampled every 100 ms),
how many attack connections the gateway closed and when (seconds after each connection opened), and the
p50/p99 latency of a normal authenticated `GET /v1/models` sent every 100 ms during the attack from a
separate thread (one keep-alive connection, reopened when closed). Bounded: about two minutes in all.

Attacks: 20 connections x 8 MB of one header that never ends; 300 slowloris connections sending one
header byte per second for 30 s; 2,000 connections that send nothing; 50 never-ending chunked bodies
without a key and 50 with a valid key (a chunk every 0.5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import gateway_stack

KEY = "sk-bench-" + "h" * 40


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Observer:
    """A thread sampling RSS and timing GET /v1/models every 100 ms until stopped."""

    host: str
    port: int
    pid: int
    rss: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int | str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            tick = time.monotonic()
            self.rss.append(rss_mib(self.pid))
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                started = time.perf_counter()
                conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
                response = conn.getresponse()
                response.read()
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
                if response.getheader("connection") == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                name = type(exc).__name__
                self.statuses[name] = self.statuses.get(name, 0) + 1
                if conn is not None:
                    conn.close()
                conn = None
            self.stop.wait(max(0.0, 0.1 - (time.monotonic() - tick)))
        if conn is not None:
            conn.close()


@dataclass
class Connection:
    opened: float = 0.0
    closed: float | None = None  # monotonic time the gateway closed it (EOF, reset or a failed write)
    answer: bytes = b""


def gone(conn: Connection, stop: asyncio.Event) -> None:
    """The connection ended: the gateway's doing unless the attack was over and closed it itself."""
    if conn.closed is None and not stop.is_set():
        conn.closed = time.monotonic()


async def watch(reader: asyncio.StreamReader, conn: Connection, stop: asyncio.Event) -> None:
    with contextlib.suppress(OSError):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if len(conn.answer) < 200:
                conn.answer += data[:200]
    gone(conn, stop)


Feed = Callable[[asyncio.StreamWriter, Connection, asyncio.Event], Awaitable[None]]


async def attack(host: str, port: int, count: int, feed: Feed, seconds: float, *, end_early: bool) -> list[Connection]:
    """``count`` connections each running ``feed`` for up to ``seconds`` (less if all are closed early)."""
    stop = asyncio.Event()
    conns: list[Connection] = []
    tasks: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def one() -> None:
        conn = Connection()
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            conn.opened = conn.closed = time.monotonic()
            conns.append(conn)
            return
        conn.opened = time.monotonic()
        conns.append(conn)
        writers.append(writer)
        watcher = asyncio.create_task(watch(reader, conn, stop))
        try:
            await feed(writer, conn, stop)
        except OSError:
            gone(conn, stop)
        await watcher  # until the gateway closes it, or the attack ends and closes it

    started = time.monotonic()
    for i in range(0, count, 100):  # open in bursts of 100 (the listen backlog is 2048)
        tasks += [asyncio.create_task(one()) for _ in range(min(100, count - i))]
        await asyncio.sleep(0.01)
    while time.monotonic() - started < seconds:
        await asyncio.sleep(0.25)
        if end_early and len(conns) == count and all(c.closed is not None for c in conns):
            await asyncio.sleep(1.0)
            break
    stop.set()
    for writer in writers:
        writer.close()
    await asyncio.wait(tasks, timeout=5)
    for task in tasks:
        task.cancel()
    return conns


async def trickle(data: bytes, every_s: float, writer: asyncio.StreamWriter, conn: Connection,
                  stop: asyncio.Event) -> None:
    for i in range(len(data)):
        if stop.is_set() or conn.closed is not None:
            return
        writer.write(data[i:i + 1])
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


async def endless_header(writer: asyncio.StreamWriter, conn: Connection, stop: asyncio.Event) -> None:
    writer.write(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Endless: ")
    block = b"h" * 65536
    for _ in range(128):  # 8 MB
        if stop.is_set() or conn.closed is not None:
            return
        writer.write(block)
        await writer.drain()
    await stop.wait()


async def slowloris(writer: asyncio.StreamWriter, conn: Connection, stop: asyncio.Event) -> None:
    await trickle(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 100, 1.0, writer, conn, stop)


async def idle(writer: asyncio.StreamWriter, conn: Connection, stop: asyncio.Event) -> None:
    await stop.wait()


def chunked_body(key: str | None) -> Feed:
    auth = f"Authorization: Bearer {key}\r\n".encode() if key else b""

    async def feed(writer: asyncio.StreamWriter, conn: Connection, stop: asyncio.Event) -> None:
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n" + auth + b"\r\n" + b"1\r\n[\r\n")
        while not stop.is_set() and conn.closed is None:
            writer.write(b"10\r\n" + b" " * 16 + b"\r\n")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    return feed


ATTACKS: list[tuple[str, int, Feed, float, bool]] = [
    ("20 x 8 MB unfinished header", 20, endless_header, 15, True),
    ("300 slowloris, 1 byte/s, 30 s", 300, slowloris, 30, False),
    ("2,000 idle connections", 2000, idle, 15, True),
    ("50 endless chunked bodies, no key", 50, chunked_body(None), 15, True),
    ("50 endless chunked bodies, valid key", 50, chunked_body(KEY), 15, True),
]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    with gateway_stack(KEY) as (url, pid):
        parsed = urlparse(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        time.sleep(1)
        print(f"gateway pid {pid}, defaults: 64 KiB heads, header/idle timeout 10 s, body gap 30 s, "
              f"keep-alive 5 s, 2,000 connections, 1,000 in flight")
        print(f"{'attack':<38} {'RSS MiB before/peak/after':>26} {'closed':>10} {'close after s min/med/max':>26} "
              f"{'GET p50/p99 ms':>15} {'answers':>20}")
        for name, count, feed, seconds, end_early in ATTACKS:
            observer = Observer(host, port, pid)
            before = statistics.mean(rss_mib(pid) for _ in range(3))
            thread = threading.Thread(target=observer.run, daemon=True)
            thread.start()
            conns = asyncio.run(attack(host, port, count, feed, seconds, end_early=end_early))
            time.sleep(2)  # let the gateway finish closing
            observer.stop.set()
            thread.join()
            after = rss_mib(pid)
            closed = [c.closed - c.opened for c in conns if c.closed is not None]
            timing = (f"{min(closed):.1f}/{statistics.median(closed):.1f}/{max(closed):.1f}" if closed else "-")
            first = {c.answer.split(b"\r\n", 1)[0].decode(errors="replace")[9:12] for c in conns if c.answer}
            answers = ",".join(sorted(f"{k}x{v}" for k, v in observer.statuses.items()))
            print(f"{name:<38} {before:>8.0f} /{max(observer.rss, default=before):>6.0f} /{after:>6.0f}   "
                  f"{len(closed):>4}/{count:<5} {timing:>26} "
                  f"{pct(observer.latencies_ms, 0.5):>6.1f}/{pct(observer.latencies_ms, 0.99):<7.1f} {answers:>20}"
                  f"  attack got: {','.join(sorted(first)) or 'nothing'}")


if __name__ == "__main__":
    main()
