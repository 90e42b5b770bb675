"""A bounded soak of the whole gateway under chaos: run on demand, never in CI.

    .venv/bin/python benchmarks/soak.py [--minutes 5] [--seed N] [--store sqlite|dynamodb] [--clients 40]

Starts its own Bedrock emulator, its own redis-server (a free loopback port, db 7: it is killed and
restarted, so never the shared one), moto for ``--store dynamodb``, and a gateway (``python -m proxy
serve``, Redis limiter). Creates teams with limits and budgets through the admin API, then for the given
minutes runs bounded, loopback-only mixed traffic (plain, streamed with and without include_usage, tools,
upstream errors and slow streams via EMULATOR directives; clients that close mid-stream, close right after
[DONE] or time out) while, one at a time at random moments: Redis is SIGKILLed and restarted, the usage
store is made unavailable (SQLite: a helper process holds BEGIN EXCLUSIVE; DynamoDB: moto SIGSTOPped),
and the gateway is sent SIGTERM and restarted on the same database and spool dir.

At the end it stops traffic, waits for the flushes, restarts the gateway once more if a spool file holds
records (they are replayed at start), stops it, and prints a Markdown report: requests by outcome, 5xx by
code, the gateway's RSS per process, concurrency slots and budget reservations left in Redis, and the
books: records in the store (read directly) against the calls the clients saw admitted (lost, doubled).
Exit status 0 when every invariant held, 1 otherwise. Logs stay in the printed work directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak_support import (
    Books,
    GatewayRun,
    LimiterState,
    Procs,
    Stack,
    admin_post,
    count_records,
    emulator_calls,
    limiter_state,
    log_digest,
    read_books,
    spool_lines,
    spool_request_ids,
)

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
MODELS = ("claude-3-haiku", "claude-3-haiku", "claude-3-haiku", "claude-3-5-haiku", "nova-micro")
TOOL_MODELS = ("claude-3-haiku", "claude-3-5-haiku")
MAX_TOKENS = 256

# What the gateway answers when the EMULATOR made the upstream fail: the call reached Bedrock, so it is booked.
UPSTREAM_MESSAGES = (
    "The model failed to produce a response.", "The model is temporarily unavailable upstream; retry shortly.",
    "The model did not answer in time.", "Upstream capacity for this model is exhausted; retry shortly.",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    text: str
    stream: bool
    weight: int
    tools: bool = False
    include_usage: bool = False
    expect: int = 200  # the status the EMULATOR directive asks for


SCENARIOS = (
    Scenario("plain", "EMULATOR:reply=ok", False, 10),
    Scenario("plain words=60", "EMULATOR:words=60", False, 6),
    Scenario("plain delay_ms=400", "EMULATOR:delay_ms=400", False, 3),
    Scenario("plain tool", "weather in Paris? EMULATOR:tool", False, 4, tools=True),
    Scenario("plain usage=0,0", "EMULATOR:usage=0,0\nEMULATOR:reply=free", False, 2),
    Scenario("plain stop=max_tokens", "EMULATOR:stop=max_tokens", False, 2),
    Scenario("stream include_usage", "EMULATOR:words=40", True, 10, include_usage=True),
    Scenario("stream", "EMULATOR:words=40", True, 8),
    Scenario("stream slow", "EMULATOR:words=12 EMULATOR:chunk_delay_ms=300", True, 4, include_usage=True),
    Scenario("stream tools", "EMULATOR:parallel_tools=3\nEMULATOR:text_before_tool", True, 4, tools=True,
             include_usage=True),
    Scenario("stream error after 3", "EMULATOR:stream_error_after=3", True, 2),
    Scenario("stream error first", "EMULATOR:stream_error_after=0", True, 1, expect=502),
    Scenario("stream truncated", "EMULATOR:truncate_after=4", True, 2, include_usage=True),
    Scenario("error Throttling", "EMULATOR:error=ThrottlingException", False, 2, expect=429),
    Scenario("error InternalServer", "EMULATOR:error=InternalServerException", True, 2, expect=502),
    Scenario("error ServiceUnavailable", "EMULATOR:error=ServiceUnavailableException", False, 1, expect=503),
    Scenario("error ModelTimeout", "EMULATOR:error=ModelTimeoutException", False, 1, expect=504),
    Scenario("error Validation", "EMULATOR:error=ValidationException", False, 1, expect=400),
)
STREAM_BEHAVIOURS = (("read all", 60), ("close mid-stream", 15), ("close after [DONE]", 12), ("time out", 13))
PLAIN_BEHAVIOURS = (("read all", 85), ("time out", 15))


@dataclass(frozen=True)
class TeamSpec:
    team_id: str
    body: dict[str, Any]
    keys: tuple[dict[str, Any], ...]
    clients: float  # share of the clients


TEAMS = (
    TeamSpec("soak-open", {}, ({}, {"name": "narrow", "limits": {"max_concurrency": 3},
                                    "monthly_budget_usd": "5"}), 0.4),
    TeamSpec("soak-conc", {"limits": {"max_concurrency": 5}, "monthly_budget_usd": "50"}, ({},), 0.25),
    TeamSpec("soak-rpm", {"limits": {"rpm": 240, "tpm": 50000}}, ({},), 0.175),
    TeamSpec("soak-budget", {"monthly_budget_usd": "0.12"}, ({},), 0.175),
)


@dataclass
class Key:
    team_id: str
    key_id: str
    label: str
    secret: str


@dataclass
class Call:
    n: int
    key: Key
    scenario: Scenario
    behaviour: str
    model: str
    t0: float
    generation: int  # the gateway process serving when the call was sent
    t1: float = 0.0
    status: int | None = None
    request_id: str | None = None
    code: str | None = None
    message: str | None = None
    outcome: str = ""
    error_event: str | None = None

    @property
    def admitted(self) -> bool:
        """The gateway admitted it: a 200 (for a stream: the stream started)."""
        return self.status == 200

    @property
    def upstream_refusal(self) -> bool:
        """A non-200 that the upstream (the emulator) produced: the call reached Bedrock."""
        if self.status is None or self.status == 200:
            return False
        return self.message in UPSTREAM_MESSAGES or (
            self.status == 400 and (self.message or "").startswith("Emulated ValidationException"))


@dataclass
class ChaosEvent:
    kind: str
    t_start: float
    t_end: float = 0.0
    detail: str = ""


@dataclass
class Soak:
    args: argparse.Namespace
    stack: Stack
    rng: random.Random
    keys: list[Key] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    events: list[ChaosEvent] = field(default_factory=list)
    stop_traffic: asyncio.Event = field(default_factory=asyncio.Event)
    stop_chaos: asyncio.Event = field(default_factory=asyncio.Event)
    traffic_t0: float = 0.0
    traffic_t1: float = 0.0
    notes: list[str] = field(default_factory=list)
    next_start: float = 0.0

    # --- setup --------------------------------------------------------------------------------
    async def create_teams(self) -> None:
        async with httpx.AsyncClient(base_url=self.stack.gateway_url, timeout=30) as http:
            for spec in TEAMS:
                await admin_post(http, "/admin/teams", {"team_id": spec.team_id, "team_name": spec.team_id,
                                                        **spec.body})
                for i, key_body in enumerate(spec.keys):
                    made = await admin_post(http, "/admin/keys", {"team_id": spec.team_id, **key_body})
                    label = f"{spec.team_id}/{key_body.get('name', f'key{i + 1}')}"
                    self.keys.append(Key(spec.team_id, made["key_id"], label, made["key"]))

    def assign_keys(self) -> list[Key]:
        """Client i -> its key: teams get their share of the clients, a team's keys share its clients."""
        out: list[Key] = []
        for spec in TEAMS:
            team_keys = [k for k in self.keys if k.team_id == spec.team_id]
            for i in range(max(1, round(spec.clients * self.args.clients))):
                out.append(team_keys[i % len(team_keys)])
        return out[: self.args.clients] if len(out) > self.args.clients else out

    # --- traffic ------------------------------------------------------------------------------
    async def pace(self) -> None:
        """At most --max-rps call starts per second over all clients (0: only the clients bound the load)."""
        if self.args.max_rps <= 0:
            return
        now = time.monotonic()
        self.next_start = max(self.next_start + 1 / self.args.max_rps, now)
        await asyncio.sleep(self.next_start - now)

    async def worker(self, http: aiohttp.ClientSession, key: Key, rng: random.Random) -> None:
        while not self.stop_traffic.is_set():
            scenario = rng.choices(SCENARIOS, weights=[s.weight for s in SCENARIOS])[0]
            behaviours = STREAM_BEHAVIOURS if scenario.stream else PLAIN_BEHAVIOURS
            behaviour = rng.choices([b for b, _ in behaviours], weights=[w for _, w in behaviours])[0]
            model = rng.choice(TOOL_MODELS if scenario.tools else MODELS)
            generation = self.stack.runs[-1].generation if self.stack.gateway is not None else 0
            await self.pace()
            if self.stop_traffic.is_set():
                return
            call = Call(len(self.calls) + 1, key, scenario, behaviour, model, self.stack.now(), generation)
            self.calls.append(call)
            await self.one_call(http, call, rng)
            call.t1 = self.stack.now()
            if call.outcome == "connection refused (gateway down)":
                await asyncio.sleep(0.2)
            elif call.status == 429 and not call.upstream_refusal:
                await asyncio.sleep(rng.uniform(0.2, 1.0))  # a limiter refusal: back off as SDKs do
            else:
                await asyncio.sleep(rng.uniform(0.02, 0.12))  # think time: bounded load on a small machine

    async def one_call(self, http: aiohttp.ClientSession, call: Call, rng: random.Random) -> None:
        sc = call.scenario
        body: dict[str, Any] = {"model": call.model, "max_tokens": MAX_TOKENS, "stream": sc.stream,
                                "messages": [{"role": "user", "content": sc.text}]}
        if sc.tools:
            body["tools"] = [WEATHER_TOOL]
        if sc.include_usage:
            body["stream_options"] = {"include_usage": True}
        timeout = aiohttp.ClientTimeout(total=60, sock_connect=3)
        if call.behaviour == "time out":
            timeout = aiohttp.ClientTimeout(total=60, sock_connect=3, sock_read=rng.uniform(0.05, 0.5))
        close_after = rng.randint(1, 8)
        headers = {"Authorization": f"Bearer {call.key.secret}", "x-request-id": f"soak-{call.n}"}
        got_headers = False
        try:
            async with http.post(f"{self.stack.gateway_url}/v1/chat/completions", json=body, headers=headers,
                                 timeout=timeout) as resp:
                got_headers = True
                call.status = resp.status
                call.request_id = resp.headers.get("x-request-id")
                if resp.status != 200:
                    raw = await resp.read()
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        error = orjson.loads(raw)["error"]
                        call.code, call.message = error.get("code"), error.get("message")
                    call.outcome = f"{resp.status} {call.code}" + (" (upstream)" if call.upstream_refusal else "")
                    return
                if not sc.stream:
                    await resp.read()
                    call.outcome = "200 plain, read"
                    return
                await self.read_stream(resp, call, close_after)
        except aiohttp.ClientConnectorError:
            call.outcome = "connection refused (gateway down)"
        except (TimeoutError, aiohttp.ServerTimeoutError):
            call.outcome = "200, client timed out mid-body" if got_headers else "client timed out before headers"
            if call.behaviour != "time out":
                call.outcome += " (UNPLANNED: 60 s total)"
            if got_headers and call.status != 200:
                call.outcome = f"{call.status}, client timed out reading the error"
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            call.outcome = ("200, connection lost mid-body" if got_headers
                            else f"disconnected before headers ({type(exc).__name__})")
            call.error_event = call.error_event or f"{type(exc).__name__}: {exc}"

    async def read_stream(self, resp: aiohttp.ClientResponse, call: Call, close_after: int) -> None:
        lines = 0
        async for raw in resp.content:
            line = raw.strip()
            if not line:
                continue
            lines += 1
            if line.startswith(b'data: {"error"'):
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    call.error_event = orjson.loads(line[6:])["error"].get("code")
            if line == b"data: [DONE]":
                if call.behaviour == "close after [DONE]":
                    resp.close()
                    call.outcome = "200 stream, client closed right after [DONE]"
                    return
                break
            if call.behaviour == "close mid-stream" and lines >= close_after:
                resp.close()
                call.outcome = "200 stream, client closed mid-stream"
                return
        else:
            call.outcome = "200 stream, ended without [DONE]"
            return
        if call.error_event:
            call.outcome = f"200 stream, error event ({call.error_event}) + [DONE]"
        else:
            call.outcome = "200 stream, [DONE] read"
        await resp.read()

    async def progress(self) -> None:
        while not self.stop_traffic.is_set():
            await asyncio.sleep(15)
            done = [c for c in self.calls if c.outcome]
            statuses = Counter(c.status for c in done)
            top = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=lambda x: -x[1])[:6])
            rss = self.stack.runs[-1].rss_end // 1024 if self.stack.runs else 0
            try:  # what another process (a report, a replica) sees of the books right now
                visible = await asyncio.to_thread(count_records, self.stack)
                seen = f"; store shows {visible} records of {(await emulator_calls(self.stack.emulator_url))['total']}"
                seen += " emulator calls"
            except Exception as exc:
                seen = f"; store unreadable ({type(exc).__name__})"
            print(f"[{self.stack.now():6.1f}s] {len(done)} calls ({top}); gateway gen "
                  f"{len(self.stack.runs)} RSS {rss} MiB; chaos events {len(self.events)}{seen}", file=sys.stderr)

    async def sample_rss(self) -> None:
        while True:
            self.stack.sample_rss()
            await asyncio.sleep(0.5)

    # --- chaos --------------------------------------------------------------------------------
    def kinds(self) -> Iterator[str]:
        while True:
            cycle = ["redis", "store", "gateway"]
            self.rng.shuffle(cycle)
            yield from cycle

    async def chaos(self, until: float) -> None:
        kinds = self.kinds()
        at = self.stack.now() + self.rng.uniform(8, 15)
        while not self.stop_chaos.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_chaos.wait(), max(0.0, at - self.stack.now()))
            if self.stop_chaos.is_set() or self.stack.now() > until - 8:
                return
            kind = next(kinds)
            event = ChaosEvent(kind, self.stack.now())
            self.events.append(event)
            print(f"[{event.t_start:6.1f}s] chaos: {kind}", file=sys.stderr)
            try:
                event.detail = await self.chaos_event(kind)
            except Exception as exc:  # recorded, and the stack is put back together below
                event.detail = f"FAILED: {exc!r}"
                await self.restore()
            event.t_end = self.stack.now()
            at = event.t_end + self.rng.uniform(12, 25)

    async def chaos_event(self, kind: str) -> str:
        stack = self.stack
        if kind == "redis":
            down = self.rng.uniform(2, 5)
            stack.kill_redis()
            await asyncio.sleep(down)
            await stack.start_redis()
            return f"redis-server SIGKILLed, restarted {down:.1f}s later (empty)"
        if kind == "store":
            # Short ones (the SQLite store waits them out: busy_timeout 10 s) and long ones (it fails and spools).
            return await stack.store_outage(self.rng.choice((self.rng.uniform(4, 8), self.rng.uniform(11, 16))))
        old = await stack.stop_gateway("chaos: SIGTERM")
        t_down = time.monotonic()
        new = await stack.start_gateway()
        assert old is not None
        return (f"SIGTERM gen {old.generation} (pid {old.pid}): exit {old.exit_code} after {old.drain_s:.1f}s; "
                f"gen {new.generation} (pid {new.pid}) serving {time.monotonic() - t_down:.1f}s later")

    async def restore(self) -> None:
        """After a failed or interrupted event: Redis up, store reachable, a gateway serving."""
        self.stack.resume_store()
        if not self.stack.redis_up():
            await self.stack.start_redis()
        if self.stack.gateway is None or self.stack.gateway.poll() is not None:
            if self.stack.gateway is not None:
                self.notes.append(f"gateway pid {self.stack.gateway.pid} died on its own "
                                  f"(exit {self.stack.gateway.returncode})")
                run = self.stack.runs[-1]
                run.exit_code, run.ended_at, run.stop_reason = self.stack.gateway.returncode, self.stack.now(), "DIED"
            await self.stack.start_gateway()

    # --- the run ------------------------------------------------------------------------------
    async def run(self) -> int:
        stack = self.stack
        print(f"soak: {self.args.minutes} min, seed {self.args.seed}, store {self.args.store}, "
              f"{self.args.clients} clients, max {self.args.max_rps or 'unbounded'} calls/s; "
              f"work dir {stack.workdir}", file=sys.stderr)
        await stack.start_emulator()
        await stack.start_redis()
        if stack.store == "dynamodb":
            await stack.start_moto()
        await stack.start_gateway()
        await self.create_teams()
        sampler = asyncio.create_task(self.sample_rss())
        try:
            return await self.traffic_and_report()
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)

    async def traffic_and_report(self) -> int:
        stack = self.stack
        self.traffic_t0 = stack.now()
        until = self.traffic_t0 + self.args.minutes * 60
        connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a connection per call: no stale keep-alive
        async with aiohttp.ClientSession(connector=connector) as http:
            workers = [asyncio.create_task(self.worker(http, key, random.Random(self.rng.random())))
                       for key in self.assign_keys()]
            chaos = asyncio.create_task(self.chaos(until))
            progress = asyncio.create_task(self.progress())
            try:
                await asyncio.sleep(max(0.0, until - stack.now()))
            except asyncio.CancelledError:  # Ctrl-C / SIGTERM: stop at once, the caller cleans up
                self.stop_traffic.set()
                self.stop_chaos.set()
                for task in [*workers, chaos, progress]:
                    task.cancel()
                await asyncio.gather(*workers, chaos, progress, return_exceptions=True)
                raise
            self.stop_traffic.set()
            self.stop_chaos.set()
            progress.cancel()
            _, pending = await asyncio.wait(workers, timeout=90)
            for task in pending:
                task.cancel()
            if pending:
                self.notes.append(f"{len(pending)} client(s) still busy 90 s after the stop: cancelled")
            await asyncio.gather(*pending, progress, return_exceptions=True)
            await asyncio.wait_for(chaos, 120)
        self.traffic_t1 = stack.now()
        await self.restore()
        return await self.settle_and_report()

    async def wait_for_books(self, quiet_s: float = 4.0) -> int:
        """Polls the store until its record count has not changed for quiet_s seconds."""
        timeout, poll = (60.0, 0.5) if self.stack.store == "sqlite" else (240.0, 2.0)
        quiet_s = max(quiet_s, 3 * poll)
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = await asyncio.to_thread(count_records, self.stack)
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
            await asyncio.sleep(poll)
        return last

    async def settle_and_report(self) -> int:
        stack = self.stack
        team_ids = [t.team_id for t in TEAMS]
        await self.wait_for_books()
        slots_live = await self.wait_for_slots(team_ids)
        # What another process can see before any final SIGTERM: the store plus the spool files.
        visible = set((await asyncio.to_thread(read_books, stack)).per_request)
        visible |= await asyncio.to_thread(spool_request_ids, stack.spool_dir)
        emulator_before = (await emulator_calls(stack.emulator_url)).get("total", 0)
        invisible = emulator_before - len(visible)
        spooled = spool_lines(stack.spool_dir)
        replay_restart = any(spooled.values())
        if replay_restart:
            await stack.stop_gateway("final: SIGTERM to replay the spool")
            try:
                await stack.start_gateway()
                await self.wait_for_books()
            except RuntimeError as exc:
                self.notes.append(f"the replay restart failed: {str(exc).splitlines()[0]}")
        await stack.stop_gateway("final: SIGTERM (end of soak)")
        slots_after = await asyncio.to_thread(limiter_state, stack.redis_url, team_ids)
        books = await asyncio.to_thread(read_books, stack)
        emulator = await emulator_calls(stack.emulator_url)
        left_in_spool = spool_lines(stack.spool_dir)
        stranded = await asyncio.to_thread(spool_request_ids, stack.spool_dir)
        report = Report(self, books, slots_live, slots_after, emulator, spooled, replay_restart, left_in_spool,
                        stranded - set(books.per_request), invisible, emulator_before)
        text = report.markdown()
        print(text)
        (stack.workdir / "report.md").write_text(text)
        return 0 if report.ok else 1

    async def wait_for_slots(self, team_ids: list[str], timeout: float = 10.0) -> LimiterState:
        deadline = time.monotonic() + timeout
        while True:
            state = await asyncio.to_thread(limiter_state, self.stack.redis_url, team_ids)
            if (state.error is None and state.members == 0 and not any(state.reserved.values())) \
                    or time.monotonic() > deadline:
                return state
            await asyncio.sleep(0.25)


# --- the report ---------------------------------------------------------------------------------
def mib(kib: int | None) -> str:
    return "—" if not kib else f"{kib / 1024:.1f}"


def pct(new: int | None, old: int | None) -> str:
    return "—" if not new or not old else f"{(new - old) * 100 / old:+.0f} %"


@dataclass
class Report:
    soak: Soak
    books: Books
    slots_live: LimiterState
    slots_after: LimiterState
    emulator: dict[str, int]
    spooled_before: dict[str, int]
    replay_restart: bool
    spooled_after: dict[str, int]
    stranded: set[str]
    invisible_before_stop: int  # Bedrock calls with no record in the store or a spool file before the final stop
    emulator_before_stop: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def markdown(self) -> str:
        soak, stack, books = self.soak, self.soak.stack, self.books
        calls = [c for c in soak.calls if c.outcome]
        admitted = {c.request_id: c for c in calls if c.admitted and c.request_id}
        admitted_no_id = [c for c in calls if c.admitted and not c.request_id]
        seen_ids = {c.request_id for c in calls if c.request_id}
        recorded = set(books.per_request)
        lost = sorted(set(admitted) - recorded, key=lambda rid: admitted[rid].t0)
        doubled = {rid: n for rid, n in books.per_request.items() if n > 1}
        upstream = [c for c in calls if c.upstream_refusal and c.request_id]
        upstream_lost = [c for c in upstream if c.request_id not in recorded]
        refused = [c for c in calls if c.status not in (None, 200) and not c.upstream_refusal and c.request_id]
        refused_booked = [c for c in refused if c.request_id in recorded]
        unseen = recorded - seen_ids
        no_headers = [c for c in calls if c.status is None and not c.outcome.startswith("connection refused")]
        total_records = sum(books.per_request.values())
        emu_total = self.emulator.get("total", 0)
        fives = Counter((c.status, c.code, c.scenario.expect == c.status) for c in calls if (c.status or 0) >= 500)
        unexpected_5xx = sum(n for (_, _, expected), n in fives.items() if not expected)

        def check(name: str, value: object, want: str, good: bool) -> str:
            if not good:
                self.problems.append(f"{name}: {value} (want {want})")
            return f"| {name} | {value} | {want} | {'ok' if good else '**FAIL**'} |"

        worst_growth = 0.0
        for run in stack.runs:
            base = run.rss_warm or run.rss_start
            if base and run.rss_end and run.ended_at is not None and run.ended_at - run.started_at >= 30:
                worst_growth = max(worst_growth, (run.rss_end - base) / base)
        out: list[str] = []
        minutes = (soak.traffic_t1 - soak.traffic_t0) / 60
        out += [f"## Soak: {soak.args.minutes} min, seed {soak.args.seed}, store {stack.store}, "
                f"{soak.args.clients} clients, max {soak.args.max_rps or 'unbounded'} calls/s",
                "",
                f"Traffic ran {minutes:.1f} min ({len(calls)} calls, {len(calls) / max(1, minutes * 60):.0f}/s); "
                f"{len(soak.events)} chaos events; {len(stack.runs)} gateway processes; work dir `{stack.workdir}`.",
                "", "| Check | Value | Expected | Verdict |", "| --- | --- | --- | --- |"]
        out.append(check("admitted calls (200) with no usage record (lost)", len(lost), "0", not lost))
        out.append(check("request ids with more than one record (doubled)", len(doubled), "0", not doubled))
        out.append(check("admitted calls without an x-request-id", len(admitted_no_id), "0", not admitted_no_id))
        out.append(check("upstream-error answers (reached Bedrock) with no record", len(upstream_lost), "0",
                         not upstream_lost))
        out.append(check("refusals before Bedrock (limiter, auth, ...) that have a record", len(refused_booked), "0",
                         not refused_booked))
        out.append(check("records no client saw an id for (≤ calls without headers)", len(unseen),
                         f"≤ {len(no_headers)}", len(unseen) <= len(no_headers)))
        out.append(check("emulator calls vs records (every Bedrock call booked once)",
                         f"{emu_total} vs {total_records}", "equal", emu_total == total_records))
        out.append(check("Bedrock calls with no record visible to another process (store + spool) before the final "
                         "SIGTERM: lost if the gateway crashed", f"{self.invisible_before_stop} of "
                         f"{self.emulator_before_stop}", "0", self.invisible_before_stop == 0))
        unlinked = [r for r in stack.runs if r.unlinked_at is not None]
        out.append(check("gateway processes writing to an unlinked SQLite WAL (/proc/PID/fd '(deleted)')",
                         ", ".join(f"gen {r.generation} from t={r.unlinked_at - soak.traffic_t0:.0f}s: "
                                   f"{'+'.join(r.unlinked)}" for r in unlinked if r.unlinked_at is not None)
                         or 0, "0", not unlinked))
        out.append(check("5xx not asked for by an EMULATOR directive", unexpected_5xx, "0", unexpected_5xx == 0))
        out.append(check("in-flight slots/reservations in Redis once all calls were over (live / stored)",
                         f"{self.slots_live.live} / {self.slots_live.members}"
                         + (f" ({self.slots_live.error})" if self.slots_live.error else ""), "0 / 0",
                         self.slots_live.members == 0 and self.slots_live.error is None))
        reserved = sum(self.slots_after.reserved.values())
        out.append(check("in-flight slots/reservations after the last gateway stopped (live / stored)",
                         f"{self.slots_after.live} / {self.slots_after.members}", "0 / 0",
                         self.slots_after.members == 0 and self.slots_after.error is None))
        out.append(check("budget nano-USD still reserved after the last stop", reserved, "0", reserved == 0))
        out.append(check("records left only in a spool file after the last stop", len(self.stranded), "0",
                         not self.stranded))
        out.append(check("gateway processes that did not shut down cleanly on SIGTERM", sum(
            not r.clean_exit for r in stack.runs), "0 (uvicorn re-raises SIGTERM after its shutdown: exit -15)",
            all(r.clean_exit for r in stack.runs)))
        out.append(check("RSS growth per process alive ≥ 30 s (after warm-up → end, worst)",
                         f"{worst_growth * 100:+.0f} %", "≤ +20 %", worst_growth <= 0.20))
        out.append(f"| calls the client saw admitted / records in the store | {len(admitted)} / {total_records} "
                   "| | |")
        out.append(f"| records by status | {dict(sorted(books.by_status.items()))} | | |")
        spooled = {name: n for name, n in self.spooled_before.items() if n} or "no records"
        out.append(f"| spool files before the final stop | {spooled}"
                   f"{' → gateway restarted to replay' if self.replay_restart else ''} | | |")
        if soak.notes:
            out.append(f"| notes | {'; '.join(soak.notes)} | | |")

        out += ["", "### Requests by outcome", "", "| Outcome | Calls | Share |", "| --- | --- | --- |"]
        outcomes = Counter(c.outcome for c in calls)
        for name, n in outcomes.most_common():
            out.append(f"| {name} | {n} | {n * 100 / max(1, len(calls)):.1f} % |")
        out.append(f"| **total sent** | {len(calls)} | |")

        out += ["", "### By team", "", "| Team | Sent | 200 | 429 limiter (rate/concurrency) | 429 insufficient_quota "
                "| Records |", "| --- | --- | --- | --- | --- | --- |"]
        for spec in TEAMS:
            mine = [c for c in calls if c.key.team_id == spec.team_id]
            limited = sum(c.status == 429 and c.code == "rate_limit_exceeded" and not c.upstream_refusal for c in mine)
            quota = sum(c.status == 429 and c.code == "insufficient_quota" for c in mine)
            records = sum(1 for team in books.team_of.values() if team == spec.team_id)
            out.append(f"| {spec.team_id} {spec.body or ''} | {len(mine)} | {sum(c.admitted for c in mine)} | "
                       f"{limited} | {quota} | {records} |")

        for spec in TEAMS:
            budget = spec.body.get("monthly_budget_usd")
            if budget is not None:
                spent, limit = books.team_cost_nanos[spec.team_id] / 1e9, float(budget)
                line = f"\n{spec.team_id}: spent ${spent:.6f} of its ${budget} budget ({spent * 100 / limit:.1f} %)"
                if spent > limit:
                    bound = MAX_TOKENS * 0.004 / 1000 + 0.0001
                    line += (f", over by ${spent - limit:.6f}. While Redis answers the overshoot is one "
                             f"reservation at most (≈ ${bound:.4f} here: claude-3-5-haiku, max_tokens {MAX_TOKENS}); "
                             "Redis outages (per-process fallback, a seed that misses buffered spend) can add more")
                out.append(line + ".")

        out += ["", "### 5xx by code", "", "| Status | Code | Asked for by a directive | Calls |",
                "| --- | --- | --- | --- |"]
        for (status, code, expected), n in sorted(fives.items(), key=lambda x: (x[0][0] or 0, str(x[0][1]))):
            out.append(f"| {status} | {code} | {'yes' if expected else '**no**'} | {n} |")
        if not fives:
            out.append("| — | — | — | 0 |")

        out += ["", "### Gateway processes (RSS in MiB, from /proc/PID/status)", "",
                "| Gen | PID | Up (s) | Start | After 20 s | Peak (VmHWM) | End | Start→end | Warm→end | Stopped by "
                "| Exit | SIGTERM→exit (s) |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in stack.runs:
            up = (r.ended_at or stack.now()) - r.started_at
            drain = "—" if r.drain_s is None else f"{r.drain_s:.1f}"
            out.append(f"| {r.generation} | {r.pid} | {up:.0f} | {mib(r.rss_start)} | {mib(r.rss_warm)} | "
                       f"{mib(max(r.hwm, r.rss_max_sampled))} | {mib(r.rss_end)} | {pct(r.rss_end, r.rss_start)} | "
                       f"{pct(r.rss_end, r.rss_warm)} | {r.stop_reason} | {r.exit_code}"
                       f"{'' if r.clean_exit else ' **unclean**'} | {drain} |")

        out += ["", "### Chaos events", "", "| At (s) | Took (s) | Kind | What happened |", "| --- | --- | --- | --- |"]
        for e in soak.events:
            out.append(f"| {e.t_start - soak.traffic_t0:.1f} | {e.t_end - e.t_start:.1f} | {e.kind} | {e.detail} |")

        out += ["", "### Limiter state in Redis after the calls", "",
                "| Key | Stored members | Live members |", "| --- | --- | --- |"]
        for s in self.slots_live.slots:
            out.append(f"| `{s.key}` | {s.members} | {s.live} |")
        for key, value in sorted(self.slots_live.reserved.items()):
            out.append(f"| `{key}` reserved (nano-USD) | {value} | |")
        if not self.slots_live.slots and not self.slots_live.reserved:
            out.append("| (no in-flight sets or budget hashes left) | 0 | 0 |")

        odd = [c for c in calls if c.outcome.startswith(("disconnected", "200, connection lost", "200 stream, ended"))
               or "UNPLANNED" in c.outcome]
        if odd:
            out += ["", "### Calls cut by something other than the client's plan", ""]
            for c in odd[:15]:
                t0 = c.t0 - soak.traffic_t0
                during = [e for e in soak.events if e.t_start - 1 <= c.t0 <= e.t_end + 1]
                where = f"during the {during[0].kind} event at {during[0].t_start - soak.traffic_t0:.1f}s" if during \
                    else "outside any chaos event"
                out.append(f"- t={t0:.1f}s gen {c.generation} {c.scenario.name!r} → {c.outcome} "
                           f"({c.error_event or ''}); {where}")

        out += ["", "### Gateway logs (WARNING and above; EMULATOR-directive errors left out)", ""]
        for r in stack.runs:
            levels, top = log_digest(r.log)
            out.append(f"- gen {r.generation} `{r.log.name}`: {dict(levels)}")
            out += [f"  - {line}" for line in top]

        if lost or upstream_lost or refused_booked or doubled:
            out += ["", "### Evidence", ""]
            for rid in lost[:15]:
                c = admitted[rid]
                t0, t1 = c.t0 - soak.traffic_t0, c.t1 - soak.traffic_t0
                out.append(f"- LOST `{rid}` gen {c.generation} t={t0:.1f}s..{t1:.1f}s "
                           f"{c.key.label} {c.scenario.name!r} {c.model} {c.behaviour!r} → {c.outcome}"
                           f"{grep_logs(stack.runs, rid)}")
            for c in upstream_lost[:10]:
                out.append(f"- upstream answer not booked `{c.request_id}` gen {c.generation} "
                           f"t={c.t0 - soak.traffic_t0:.1f}s {c.scenario.name!r} → {c.outcome}"
                           f"{grep_logs(stack.runs, c.request_id or '')}")
            for c in refused_booked[:10]:
                out.append(f"- refused but booked `{c.request_id}` {c.outcome}: {c.message}")
            for rid, n in list(doubled.items())[:10]:
                out.append(f"- doubled `{rid}`: {n} records")
        out += ["", f"Verdict: {'all invariants held' if self.ok else 'FAILED: ' + '; '.join(self.problems)}", ""]
        return "\n".join(out)


def grep_logs(runs: list[GatewayRun], request_id: str) -> str:
    hits = []
    for r in runs:
        with contextlib.suppress(OSError):
            hits += [f"gen {r.generation}: {line[:200]}" for line in r.log.read_text(errors="replace").splitlines()
                     if request_id in line]
    return ("; log: " + " | ".join(hits[:3])) if hits else "; not in any gateway log"


# --- entry point ----------------------------------------------------------------------------------
async def amain(args: argparse.Namespace, procs: Procs) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    workdir = Path(tempfile.mkdtemp(prefix="llm-gateway-soak-"))
    stack = Stack(procs, workdir, args.store, time.monotonic())
    soak = Soak(args, stack, random.Random(args.seed))
    try:
        return await soak.run()
    finally:
        if stack.gateway is not None and stack.gateway.poll() is None:
            with contextlib.suppress(Exception):
                await stack.stop_gateway("soak interrupted", timeout=45)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="traffic duration (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; printed)")
    parser.add_argument("--store", choices=("sqlite", "dynamodb"), default="sqlite")
    parser.add_argument("--clients", type=int, default=40, help="concurrent clients (default 40)")
    parser.add_argument("--max-rps", type=float, default=None,
                        help="cap on call starts per second (default: none for sqlite, 10 for dynamodb: moto's "
                             "TransactWriteItems deep-copies the table once per item, so its write rate falls as "
                             "the table grows and a faster soak measures moto, not the gateway)")
    args = parser.parse_args()
    if args.max_rps is None:
        args.max_rps = 10.0 if args.store == "dynamodb" else 0.0
    if args.seed is None:
        args.seed = int(time.time() * 1000) % 1_000_000
    procs = Procs()
    try:
        return asyncio.run(amain(args, procs))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("soak: interrupted; stopping its processes", file=sys.stderr)
        return 130
    finally:
        for note in procs.stop_all():
            print(f"soak: {note}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
