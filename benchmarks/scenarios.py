"""The suite's scenarios: each runs one bounded load against one target and returns plain numbers.

Every scenario reports the load generator's own CPU (``loadgen_cpu_s`` over ``loadgen_wall_s``) and,
for a gateway or peer, the target's CPU over the same run (from /proc/<pid>/stat).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import procs
from targets import Target, emulator_calls, gateway_metric

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is; ``quick`` is the smoke-test version (the whole suite in ~2 minutes)."""

    warmup_s: float
    throughput_s: float
    rates: tuple[int, ...]
    rate_s: float
    streams: int
    streams_timeout_s: float
    hold_clients: int
    hold_timeout_s: float
    request_timeout_s: float  # an open-loop request still unanswered then counts as failed
    settle_s: float  # at most this long for a target to work off leftovers between runs

    @classmethod
    def pick(cls, quick: bool) -> Sizes:
        if quick:
            return cls(1, 3, (300, 1000), 2, 200, 10, 200, 10, 5, 5)
        return cls(3, 10, (300, 1000), 10, 2000, 60, 1000, 30, 10, 30)


@dataclass
class Context:
    emulator_url: str
    emulator_pid: int
    placement: procs.Placement
    sizes: Sizes
    workdir: Path
    target_pids: list[int] = field(default_factory=list)  # every gateway and peer of the run


def loadgen(ctx: Context, mode: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    cmd = [*ctx.placement.prefix(ctx.placement.rest), sys.executable, str(HERE / "loadgen.py"), mode,
           json.dumps(spec)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen {mode} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measured(target: Target, run: Any) -> dict[str, Any]:
    """``run()``'s result plus the target's CPU seconds and wall time over it."""
    cpu_before, started = (procs.cpu_seconds(target.pid) if target.pid else 0.0), time.perf_counter()
    result: dict[str, Any] = run()
    result["target_wall_s"] = time.perf_counter() - started
    if target.pid:
        result["target_cpu_s"] = procs.cpu_seconds(target.pid) - cpu_before
    return result


def quiet(ctx: Context, target: Target) -> None:
    """Let every target and the emulator finish leftovers (a peer still working off abandoned streams
    would otherwise call the emulator during the next target's run)."""
    for pid in {*ctx.target_pids, target.pid or ctx.emulator_pid, ctx.emulator_pid}:
        procs.settle(pid, timeout=ctx.sizes.settle_s)


# --- (1) max non-streamed throughput, 64 clients, upstream 0 ms ----------------------------------------

def wrk(ctx: Context, spec: dict[str, Any], seconds: float) -> dict[str, Any]:
    body, headers = ctx.workdir / "wrk-body.json", ctx.workdir / "wrk-headers.txt"
    body.write_text(str(spec["body"]))
    headers.write_text("".join(f"{k}: {v}\n" for k, v in {**spec["headers"],
                                                          "Content-Type": "application/json"}.items()))
    env = {"WRK_BODY_FILE": str(body), "WRK_HEADERS_FILE": str(headers), "PATH": "/usr/bin:/bin"}
    cmd = [*ctx.placement.prefix(ctx.placement.rest), "wrk", "-t1", "-c64", f"-d{seconds:g}s", "--timeout", "5s",
           "-s", str(HERE / "wrk_post.lua"), str(spec["url"])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["errors"] = sum(result["errors"].values())
    result["loadgen_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["loadgen_wall_s"] = time.perf_counter() - started
    result["loadgen"] = "wrk -t1 -c64"
    return result


def throughput(ctx: Context, target: Target) -> dict[str, Any]:
    spec = target.request("plain")
    if shutil.which("wrk"):
        wrk(ctx, spec, ctx.sizes.warmup_s)
        quiet(ctx, target)  # a slow target is still answering the warm-up's last 64 requests
        return measured(target, lambda: wrk(ctx, spec, ctx.sizes.throughput_s))
    closed_spec = {**spec, "concurrency": 64, "timeout": 10}
    loadgen(ctx, "closed", {**closed_spec, "duration": ctx.sizes.warmup_s}, 120)

    def run() -> dict[str, Any]:
        result = loadgen(ctx, "closed", {**closed_spec, "duration": ctx.sizes.throughput_s}, 300)
        result.update(loadgen="aiohttp closed loop, 64 clients (wrk not installed)",
                      loadgen_cpu_s=result["cpu_s"])
        return result

    return measured(target, run)


# --- (2) added latency at fixed arrival rates, upstream 50 ms ------------------------------------------

def latency(ctx: Context, target: Target) -> dict[str, Any]:
    spec = target.request("slow")
    timeout = ctx.sizes.request_timeout_s
    loadgen(ctx, "open", {**spec, "rate": 100, "duration": 1, "timeout": timeout}, 60)  # warm the pools
    out: dict[str, Any] = {}
    for rate in ctx.sizes.rates:
        quiet(ctx, target)
        open_spec = {**spec, "rate": rate, "duration": ctx.sizes.rate_s, "timeout": timeout}
        result = measured(target, lambda s=open_spec: loadgen(ctx, "open", s, ctx.sizes.rate_s + 120))
        result["loadgen_cpu_s"] = result["cpu_s"]
        out[str(rate)] = result
    return out


# --- (3, 4) concurrent streams: wall, TTFT, all finished, peak RSS, CPU per chunk ----------------------

def streams(ctx: Context, target: Target) -> dict[str, Any]:
    spec = {**target.request("stream"), "count": ctx.sizes.streams, "timeout": ctx.sizes.streams_timeout_s}
    loadgen(ctx, "streams", {**spec, "count": 20}, 60)  # warm-up
    quiet(ctx, target)
    fallbacks = "llm_gateway_ratelimit_fallback_total"
    extra: dict[str, Any] = {}
    if target.pid:
        extra["rss_before_mb"] = procs.rss_bytes(target.pid) / 1e6
        extra["peak_reset"] = procs.reset_peak_rss(target.pid)
        extra["fallbacks_before"] = gateway_metric(target, fallbacks) if target.admin_headers else None
    result = measured(target, lambda: loadgen(ctx, "streams", spec, ctx.sizes.streams_timeout_s + 60))
    result.update(extra, loadgen_cpu_s=result["cpu_s"])
    if target.pid:
        result["peak_rss_mb"] = procs.peak_rss_bytes(target.pid) / 1e6
        if target.admin_headers:
            after = gateway_metric(target, fallbacks)
            result["fallbacks"] = None if after is None else after - (extra["fallbacks_before"] or 0)
        if result["events"]:
            result["cpu_per_chunk_us"] = result["target_cpu_s"] / result["events"] * 1e6
    return result


# --- (5) upstream concurrency: upstream holds each call 1 s, N clients at once --------------------------

class CallSampler(threading.Thread):
    """Polls the emulator's call counter; every call is held 1 s, so arrivals in <1 s are all in flight."""

    def __init__(self, emulator_url: str, hold_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.url, self.hold_s = emulator_url, hold_s
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((time.perf_counter(), emulator_calls(self.url)["total"]))
            time.sleep(0.05)

    def max_in_flight(self) -> int:
        best = 0
        for i, (t_i, n_i) in enumerate(self.samples):
            for t_j, n_j in self.samples[:i]:
                if t_i - t_j < self.hold_s:
                    best = max(best, n_i - n_j)
                    break
        return best


def concurrency(ctx: Context, target: Target) -> dict[str, Any]:
    spec = {**target.request("hold"), "count": ctx.sizes.hold_clients, "timeout": ctx.sizes.hold_timeout_s,
            "within_s": 1.5}
    quiet(ctx, target)
    sampler = CallSampler(ctx.emulator_url)
    sampler.start()
    time.sleep(0.2)
    try:
        result = measured(target, lambda: loadgen(ctx, "burst", spec, ctx.sizes.hold_timeout_s + 60))
    finally:
        sampler.stopped.set()
        sampler.join()
    result.update(max_in_flight=sampler.max_in_flight(), loadgen_cpu_s=result["cpu_s"])
    return result


SCENARIOS = {"throughput": throughput, "latency": latency, "streams": streams, "concurrency": concurrency}
