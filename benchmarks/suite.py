"""The benchmark suite: llm-gateway as deployed, next to calling the emulator directly, and a peer, in one run.

    .venv/bin/python benchmarks/suite.py [--quick] [--peer litellm] [--scenarios throughput,latency,...]

Starts the Bedrock emulator, the gateway (``llm-gateway serve``: Redis limiter on database 13 of the Redis
at --redis, flushed before and after; SQLite store; usage recording; auth cache; metrics) and, with
``--peer litellm``, LiteLLM's proxy on the same emulator. The gateway (or peer) is pinned to one core,
the emulator, the load generator and this script to another. Scenarios (each bounded in count and time):

- throughput: max non-streamed requests/s, 64 clients (wrk + wrk_post.lua; aiohttp if wrk is missing)
- latency: added latency p50/p90/p99 at 300 and 1,000 req/s, open loop, upstream 50 ms
- streams: 2,000 concurrent streams of 50 tokens 20 ms apart: wall, TTFT, all finished, peak RSS, CPU/chunk
- concurrency: upstream 1 s, 1,000 clients at once: the most calls in flight at the emulator

Prints a Markdown table and writes it to benchmarks/results/latest.md. Numbers only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import procs  # noqa: E402
import report  # noqa: E402
import targets  # noqa: E402
from scenarios import SCENARIOS, Context, Sizes  # noqa: E402

PEERS = ("litellm",)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    return f"{os.cpu_count()} cores ({model}), Linux {os.uname().release}"


def revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=targets.ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()

    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small bounded versions (a smoke test, ~2 min)")
    parser.add_argument("--peer", choices=PEERS, action="append", default=[], help="also run against this peer")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma list of {', '.join(SCENARIOS)}")
    parser.add_argument("--redis", default="127.0.0.1:6379", help="host:port of the Redis to use (database 13)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.md")
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def start_targets(stack: ExitStack, args: argparse.Namespace, ctx: Context) -> list[targets.Target]:
    found = [targets.Target("direct", ctx.emulator_url, targets.FAKE_SIGV4)]
    found.append(stack.enter_context(targets.gateway(ctx.placement, ctx.workdir, ctx.emulator_url, args.redis)))
    if "litellm" in args.peer:
        from peers.litellm import litellm

        found.append(stack.enter_context(litellm(ctx.placement, ctx.workdir, ctx.emulator_url)))
    return found


def run(args: argparse.Namespace) -> str:
    placement = procs.Placement.detect()
    if placement.rest is not None:
        os.sched_setaffinity(0, {int(placement.rest)})  # this script samples the emulator: keep it off core 0
    sizes = Sizes.pick(args.quick)
    results: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="llm-gateway-suite-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator_url, emulator_pid = stack.enter_context(targets.emulator(placement, workdir))
        ctx = Context(emulator_url, emulator_pid, placement, sizes, workdir)
        found = start_targets(stack, args, ctx)
        ctx.target_pids = [target.pid for target in found if target.pid]
        for scenario in args.scenarios:
            for target in found:
                print(f"[{time.perf_counter() - started:6.1f}s] {scenario} → {target.name}", flush=True)
                try:
                    results.setdefault(scenario, {})[target.name] = SCENARIOS[scenario](ctx, target)
                except Exception as exc:  # a scenario that fails is reported, the others still run
                    traceback.print_exc()
                    results.setdefault(scenario, {})[target.name] = {"error": f"{type(exc).__name__}: {exc}"}
        notes += [note for target in found for note in (f"{target.name}: {n}" for n in target.notes)]
        names = [target.name for target in found]
        raw = args.out.with_suffix(".json")
        raw.parent.mkdir(exist_ok=True)
        raw.write_text(json.dumps(results, indent=2, default=str))
    fallbacks = results.get("streams", {}).get("llm-gateway", {}).get("fallbacks")
    if fallbacks is not None:
        notes.append(f"llm-gateway admissions that fell back to the per-process limiter during the streams run: "
                     f"{fallbacks:.0f}")
    notes += [
        "direct = the load generator calling the emulator's Converse API itself (a fixed SigV4-shaped header, "
        "no signing); TTFT is the first content delta (SSE `content` or Bedrock `contentBlockDelta`) counted from "
        "the moment all streams start; added latency = the target's percentile minus direct's at the same rate",
        "CPU per chunk = the target's utime+stime over the streams run / SSE events it sent (50 tokens + role, "
        "finish and [DONE] events per stream), so it includes each stream's admission and accounting",
        "upstream in flight = the most emulator call-counter increments within any window shorter than the 1 s "
        "each call is held (sampled every 50 ms: a lower bound)",
        "the gateway's front-door caps are raised for the 2,000-stream load (LLM_GATEWAY_HTTP_MAX_IN_FLIGHT=5000, "
        "LLM_GATEWAY_HTTP_MAX_CONNECTIONS=5000, LLM_GATEWAY_UPSTREAM_MAX_CONNECTIONS=4000); one team with rpm, tpm, "
        "concurrency and a monthly budget; all else default",
        "shared machine (other engineers run tests on it): numbers are noisy, compare within one run",
    ]
    header = [f"## Benchmark suite ({'quick' if args.quick else 'full'}) — "
              f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}", "",
              f"- command: `.venv/bin/python benchmarks/suite.py {' '.join(sys.argv[1:])}`",
              f"- machine: {machine()}", f"- placement: {placement.describe()}",
              f"- tree: {revision()}; suite wall time {time.perf_counter() - started:.0f} s"]
    return report.render(results, names, header, notes)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    text = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
