"""Process plumbing for benchmarks/soak.py: the processes it owns, RSS sampling, the books and the slots.

Everything here is loopback only. Every process is started from the main thread, in a session of its own
(so a Ctrl-C in the terminal reaches the soak, which then stops them in order), and registered in one
``Procs`` so that any exit path stops all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "sk-admin-soak-" + "s" * 40
DEMO_KEY = "sk-soak-demo-" + "d" * 40
KEY_PEPPER = "soak-pepper-" + "p" * 32
REDIS_DB = 7

# Holds the write lock of the SQLite file for argv[2] seconds: the usage store (busy_timeout 10 s) waits,
# then fails and spools. WAL mode: readers go on reading; every writer waits.
SQLITE_LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
print("released", flush=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        except (OSError, TimeoutError):
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


async def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Polls (never blocks the loop); the exit code, or None if still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return proc.poll()


class Procs:
    """Every child the soak started; ``stop_all`` ends them (idempotent, also on Ctrl-C and errors)."""

    def __init__(self) -> None:
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._logs: list[IO[bytes]] = []

    def start(self, name: str, cmd: list[str], *, env: dict[str, str] | None = None,
              log: Path | None = None, stdout_pipe: bool = False) -> subprocess.Popen[bytes]:
        out: IO[bytes] | int = subprocess.DEVNULL
        if stdout_pipe:
            out = subprocess.PIPE
        elif log is not None:
            fh = log.open("ab")
            self._logs.append(fh)
            out = fh
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
                                start_new_session=True)
        self._procs.append((name, proc))
        return proc

    def stop_all(self, timeout: float = 20.0) -> list[str]:
        """SIGCONT (a stopped process cannot act on SIGTERM), SIGTERM, then SIGKILL what is left."""
        notes: list[str] = []
        alive = [(n, p) for n, p in self._procs if p.poll() is None]
        for _, proc in alive:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in alive:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                notes.append(f"{name} (pid {proc.pid}) ignored SIGTERM for {timeout:.0f}s: killed")
                proc.kill()
                proc.wait()
        for fh in self._logs:
            with contextlib.suppress(OSError):
                fh.close()
        self._logs.clear()
        self._procs = [(n, p) for n, p in self._procs if p.poll() is None]
        return notes


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in KiB from /proc/PID/status; {} once the process is gone."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


@dataclass
class GatewayRun:
    """One gateway process: its life and its memory (KiB)."""

    generation: int
    pid: int
    log: Path
    started_at: float  # seconds since the soak began (when /health first answered)
    rss_start: int = 0
    rss_warm: int | None = None  # first sample 20 s after start (caches and pools filled)
    rss_max_sampled: int = 0
    hwm: int = 0  # kernel's VmHWM: the true peak
    rss_end: int = 0  # last sample before SIGTERM
    ended_at: float | None = None
    stop_reason: str = ""
    drain_s: float | None = None
    exit_code: int | None = None
    sigkilled: bool = False
    db_path: Path | None = None  # SQLite: watch for -wal/-shm files unlinked under the live process
    unlinked_at: float | None = None
    unlinked: list[str] = field(default_factory=list)

    @property
    def clean_exit(self) -> bool:
        """Exited on its own after SIGTERM, through uvicorn's whole shutdown (uvicorn re-raises the signal)."""
        if self.sigkilled or self.exit_code not in (0, -signal.SIGTERM):
            return False
        try:
            return f"Finished server process [{self.pid}]" in self.log.read_text(errors="replace")
        except OSError:
            return False

    def sample(self, now: float) -> None:
        status = proc_status(self.pid)
        if "VmRSS" not in status:
            return
        rss = status["VmRSS"]
        self.rss_start = self.rss_start or rss
        if self.rss_warm is None and now - self.started_at >= 20:
            self.rss_warm = rss
        self.rss_max_sampled = max(self.rss_max_sampled, rss)
        self.hwm = max(self.hwm, status.get("VmHWM", 0))
        self.rss_end = rss
        if self.db_path is not None and self.unlinked_at is None:
            files = unlinked_db_files(self.pid, self.db_path)
            if files:
                self.unlinked_at, self.unlinked = now, files


def unlinked_db_files(pid: int, db_path: Path) -> list[str]:
    """Files of the SQLite database (-wal, -shm) the process still has open but that were deleted: what it
    writes there no other process sees, and a crash loses it."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith(str(db_path)) and target.endswith(" (deleted)"):
                    found.add(Path(target.removesuffix(" (deleted)")).name)
    return sorted(found)


@dataclass
class Stack:
    """The soak's own emulator, Redis, (moto) and gateway, and how to restart each."""

    procs: Procs
    workdir: Path
    store: str
    clock0: float
    emu_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    gw_port: int = field(default_factory=free_port)
    moto_port: int = field(default_factory=free_port)
    table_prefix: str = field(default_factory=lambda: f"soak-{os.getpid()}-")
    emulator: subprocess.Popen[bytes] | None = None
    redis_proc: subprocess.Popen[bytes] | None = None
    moto: subprocess.Popen[bytes] | None = None
    gateway: subprocess.Popen[bytes] | None = None
    runs: list[GatewayRun] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.workdir / "gateway.db"

    @property
    def spool_dir(self) -> Path:
        return self.workdir / "spool"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gw_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emu_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/{REDIS_DB}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def now(self) -> float:
        return time.monotonic() - self.clock0

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_GATEWAY_", "REDIS_URL", "AWS_"))}
        env = {
            **base,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.emulator_url,
            "LLM_GATEWAY_SQLITE_PATH": str(self.db_path), "LLM_GATEWAY_USAGE_SPOOL_DIR": str(self.spool_dir),
            "LLM_GATEWAY_DEMO_KEY": DEMO_KEY, "LLM_GATEWAY_ADMIN_KEY": ADMIN_KEY, "LLM_GATEWAY_KEY_PEPPER": KEY_PEPPER,
            "LLM_GATEWAY_DEFAULT_RPM": "100000000", "LLM_GATEWAY_DEFAULT_TPM": "1000000000000",
            "LLM_GATEWAY_ADMIN_FAILURES_PER_MINUTE": "1000000", "LLM_GATEWAY_KEY_FAILURES_PER_MINUTE": "1000000",
            "LLM_GATEWAY_LOG_LEVEL": "info",
            "REDIS_URL": self.redis_url,
        }
        if self.store == "dynamodb":
            env.update({"LLM_GATEWAY_STORE": "dynamodb", "LLM_GATEWAY_DYNAMODB_TABLE_PREFIX": self.table_prefix,
                        "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url})
        return env

    # --- the pieces -------------------------------------------------------------------------
    async def start_emulator(self) -> None:
        self.emulator = self.procs.start("emulator", [sys.executable, "-m", "bedrock_emulator", "--host",
                                                      "127.0.0.1", "--port", str(self.emu_port)],
                                         log=self.workdir / "emulator.log")
        await wait_for_port(self.emu_port, self.emulator)

    async def start_redis(self) -> None:
        self.redis_proc = self.procs.start("redis", [
            "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no"], log=self.workdir / "redis.log")
        await wait_for_port(self.redis_port, self.redis_proc)
        client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        try:
            client.flushdb()
        finally:
            client.close()

    def kill_redis(self) -> None:
        if self.redis_proc is not None and self.redis_proc.poll() is None:
            self.redis_proc.kill()
            self.redis_proc.wait()

    def redis_up(self) -> bool:
        return self.redis_proc is not None and self.redis_proc.poll() is None

    async def start_moto(self) -> None:
        self.moto = self.procs.start("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                              str(self.moto_port)], log=self.workdir / "moto.log")
        await wait_for_port(self.moto_port, self.moto, timeout=60)
        created = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy", "tables", "create", env=self.env(), cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        out, _ = await asyncio.wait_for(created.communicate(), 120)
        if created.returncode != 0:
            raise RuntimeError(f"llm-gateway tables create failed: {out.decode(errors='replace')}")

    async def start_gateway(self) -> GatewayRun:
        generation = len(self.runs) + 1
        log = self.workdir / f"gateway-{generation}.log"
        self.gateway = self.procs.start(f"gateway-{generation}",
                                        [sys.executable, "-m", "proxy", "serve", "--port", str(self.gw_port)],
                                        env=self.env(), log=log)
        try:
            # uvicorn binds after the lifespan startup, which replays orphaned spool files first.
            await wait_for_port(self.gw_port, self.gateway, timeout=240)
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(timeout=2) as http:
                while True:
                    try:
                        if (await http.get(f"{self.gateway_url}/health")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline or self.gateway.poll() is not None:
                        raise RuntimeError("gateway /health never answered 200")
                    await asyncio.sleep(0.1)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- {log} ---\n{log.read_text(errors='replace')[-4000:]}") from None
        run = GatewayRun(generation, self.gateway.pid, log, self.now(),
                         db_path=self.db_path if self.store == "sqlite" else None)
        run.sample(self.now())
        self.runs.append(run)
        return run

    async def stop_gateway(self, reason: str, timeout: float = 90.0) -> GatewayRun | None:
        """SIGTERM (the gateway drains and flushes or spools its usage); SIGKILL only past ``timeout``."""
        proc, run = self.gateway, self.runs[-1] if self.runs else None
        if proc is None or run is None or proc.poll() is not None:
            return run
        run.sample(self.now())
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await wait_exit(proc, timeout)
        if code is None:
            proc.kill()
            code = await wait_exit(proc, 10)
            reason += f" (SIGKILLed: no exit {timeout:.0f}s after SIGTERM)"
            run.sigkilled = True
        run.drain_s = time.monotonic() - t0
        run.exit_code = code
        run.ended_at = self.now()
        run.stop_reason = reason
        self.gateway = None
        return run

    def sample_rss(self) -> None:
        if self.gateway is not None and self.runs and self.gateway.poll() is None:
            self.runs[-1].sample(self.now())

    # --- the usage store made unavailable from outside ----------------------------------------
    async def store_outage(self, seconds: float) -> str:
        if self.store == "dynamodb":
            return await self._freeze_moto(seconds)
        return await self._lock_sqlite(seconds)

    async def _lock_sqlite(self, seconds: float) -> str:
        locker = self.procs.start("sqlite-locker", [sys.executable, "-c", SQLITE_LOCKER, str(self.db_path),
                                                    f"{seconds:.2f}"], stdout_pipe=True)
        assert locker.stdout is not None
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        try:
            line = await asyncio.wait_for(loop.run_in_executor(None, locker.stdout.readline), 40)
            waited = time.monotonic() - t0
            if line.strip() != b"locked":
                return f"locker failed (exit {locker.poll()})"
            code = await wait_exit(locker, seconds + 30)
            return f"BEGIN EXCLUSIVE held {seconds:.1f}s (got the lock after {waited:.2f}s, exit {code})"
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.wait()
            with contextlib.suppress(OSError):
                locker.stdout.close()

    async def _freeze_moto(self, seconds: float) -> str:
        # Restarting moto would lose every table (it keeps them in memory), so the outage is SIGSTOP/SIGCONT:
        # connections hang, botocore times out (gateway: connect 2 s, read 5 s, 2 attempts), the recorder spools.
        assert self.moto is not None
        self.moto.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.moto.send_signal(signal.SIGCONT)
        return f"moto SIGSTOP for {seconds:.1f}s, then SIGCONT"

    def resume_store(self) -> None:
        if self.moto is not None and self.moto.poll() is None:
            self.moto.send_signal(signal.SIGCONT)


# --- admin API --------------------------------------------------------------------------------
async def admin_post(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(path, json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST {path} {body}: {response.status_code} {response.text}")
    return dict(response.json())


async def emulator_calls(url: str) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=10) as http:
        return dict((await http.get(f"{url}/_emulator/calls")).json())


# --- the books --------------------------------------------------------------------------------
@dataclass
class Books:
    per_request: Counter[str]  # request_id -> number of records
    by_status: Counter[str]  # record status -> records
    team_of: dict[str, str]
    team_cost_nanos: Counter[str]


def read_books(stack: Stack) -> Books:
    """Every usage record in the store, read directly (SQLite file / DynamoDB table), not via the gateway."""
    per_request: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    team_of: dict[str, str] = {}
    cost: Counter[str] = Counter()
    if stack.store == "sqlite":
        conn = sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True, timeout=30)
        try:
            for request_id, status, team, nanos in conn.execute(
                    "SELECT request_id, status, team_id, cost_nanos FROM usage_records"):
                per_request[request_id] += 1
                by_status[status] += 1
                team_of[request_id] = team
                cost[team] += int(nanos)
        finally:
            conn.close()
        return Books(per_request, by_status, team_of, cost)
    import boto3

    client = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    kwargs: dict[str, Any] = {"TableName": f"{stack.table_prefix}usage",
                              "ProjectionExpression": "request_id, #s, team_id, cost_nanos",
                              "ExpressionAttributeNames": {"#s": "status"}}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            request_id = item["request_id"]["S"]
            per_request[request_id] += 1
            by_status[item.get("status", {}).get("S", "?")] += 1
            team_of[request_id] = item.get("team_id", {}).get("S", "?")
            cost[team_of[request_id]] += int(item.get("cost_nanos", {}).get("N", "0"))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return Books(per_request, by_status, team_of, cost)


def count_records(stack: Stack) -> int:
    if stack.store == "sqlite":
        conn = sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return int(conn.execute("SELECT count(*) FROM usage_records").fetchone()[0])
        finally:
            conn.close()
    import boto3

    client = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    kwargs: dict[str, Any] = {"TableName": f"{stack.table_prefix}usage", "Select": "COUNT"}
    total = 0
    while True:
        page = client.scan(**kwargs)
        total += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def spool_lines(spool_dir: Path) -> dict[str, int]:
    """Spool file -> records (lines) in it."""
    out: dict[str, int] = {}
    if spool_dir.is_dir():
        for path in sorted(spool_dir.glob("usage-*")):
            with contextlib.suppress(OSError):
                out[path.name] = sum(1 for line in path.read_bytes().splitlines() if line.strip())
    return out


def spool_request_ids(spool_dir: Path) -> set[str]:
    import orjson

    ids: set[str] = set()
    if spool_dir.is_dir():
        for path in spool_dir.glob("usage-*"):
            for line in path.read_bytes().splitlines():
                with contextlib.suppress(ValueError):
                    ids.add(str(orjson.loads(line)["request_id"]))
    return ids


# --- the limiter's state in Redis --------------------------------------------------------------
@dataclass
class SlotEntry:
    key: str
    members: int  # ZCARD: every member still stored
    live: int  # members whose expiry score is still in the future (count against the cap)


@dataclass
class LimiterState:
    slots: list[SlotEntry]
    reserved: dict[str, int]  # budget hash -> nano-USD still reserved
    error: str | None = None

    @property
    def members(self) -> int:
        return sum(s.members for s in self.slots)

    @property
    def live(self) -> int:
        return sum(s.live for s in self.slots)


def limiter_state(redis_url: str, team_ids: list[str]) -> LimiterState:
    """In-flight sorted sets (rl:{team:T}:conc:*, bud:{team:T}:...:inflight) and budget reservations."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    slots: list[SlotEntry] = []
    reserved: dict[str, int] = {}
    try:
        now_s, now_us = client.time()
        now_ms = now_s * 1000 + now_us // 1000
        for team in team_ids:
            for raw in client.scan_iter(match=f"*{{team:{team}}}*", count=1000):
                key = raw.decode() if isinstance(raw, bytes) else str(raw)
                kind_raw = client.type(key)
                kind = kind_raw.decode() if isinstance(kind_raw, bytes) else str(kind_raw)
                if kind == "zset" and (":conc:" in key or key.endswith(":inflight")):
                    slots.append(SlotEntry(key, int(client.zcard(key)),
                                           int(client.zcount(key, f"({now_ms}", "+inf"))))
                elif kind == "hash" and key.startswith("bud:"):
                    reserved[key] = int(client.hget(key, "reserved") or 0)
    except redis.RedisError as exc:
        return LimiterState(slots, reserved, error=str(exc))
    finally:
        client.close()
    return LimiterState(sorted(slots, key=lambda s: s.key), reserved)


def log_digest(path: Path, limit: int = 8) -> tuple[Counter[str], list[str]]:
    """Lines by level, and the distinct WARNING/ERROR messages (timestamps and ids stripped), most frequent first."""
    import re

    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return levels, []
    for line in text.splitlines():
        match = re.match(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) (.*)$", line)
        if match:
            levels[match.group(1)] += 1
            if match.group(1) in ("WARNING", "ERROR", "CRITICAL") and "Emulated " not in line:
                msg = re.sub(r"req_[0-9a-f]+", "req_…", match.group(3))
                msg = re.sub(r"\d+(\.\d+)?", "N", msg)[:160]
                messages[f"{match.group(1)} {match.group(2)}: {msg}"] += 1
        elif line.startswith("Traceback"):
            levels["Traceback"] += 1
    return levels, [f"{n}× {m}" for m, n in messages.most_common(limit)]
