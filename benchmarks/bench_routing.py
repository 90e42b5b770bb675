"""What a fallback costs: latency of a call that falls back from a failing Bedrock to an OpenAI-compatible
upstream, against the same call served by that upstream directly, in one run.

    .venv/bin/python benchmarks/bench_routing.py [--requests 400] [--concurrency 8] [--cache]

Scenarios (each against the same gateway, emulators on loopback):
  direct     model echo-mini: the OpenAI-compatible upstream only
  fallback   model ha: Bedrock first (every call throttled by a queued fault), then echo-mini; the breaker
             is kept closed (LLM_GATEWAY_BREAKER_FAILURES huge) so every call pays the failed attempt
  breaker    model ha-breaker on a second gateway with the default breaker: after 5 failures Bedrock is
             skipped, so steady state costs what direct costs
  cache      (--cache) the same request twice with x-gateway-cache: on: hit latency against a miss
Prints p50/p90/p99 and the difference to direct. Numbers vary on a shared machine: compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, wait_for_port  # noqa: E402

KEY = "sk-bench-" + "r" * 40
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def catalog(local: str) -> str:
    return f"""
[providers.local]
kind = "openai_compatible"
base_url = "{local}/v1"

[models."echo-mini"]
deployments = [ {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.0001", output = "0.0002" }}

[models."ha"]
deployments = [ {{ provider = "bedrock", model = "{HAIKU}" }}, {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.00025", output = "0.00125" }}
"""


@contextmanager
def processes(**gateway_env: str) -> Iterator[tuple[str, str, str]]:
    """(gateway URL, Bedrock emulator URL, OpenAI emulator URL)."""
    workdir = tempfile.mkdtemp()
    bedrock, local, port = free_port(), free_port(), free_port()
    path = Path(workdir) / "catalog.toml"
    path.write_text(catalog(f"http://127.0.0.1:{local}"), encoding="utf-8")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"http://127.0.0.1:{bedrock}",
           "LLM_GATEWAY_SQLITE_PATH": f"{workdir}/bench.db", "LLM_GATEWAY_USAGE_SPOOL_DIR": f"{workdir}/spool",
           "LLM_GATEWAY_DEMO_KEY": KEY, "LLM_GATEWAY_DEFAULT_RPM": "100000000",
           "LLM_GATEWAY_DEFAULT_TPM": "1000000000000", "LLM_GATEWAY_LOG_LEVEL": "warning",
           "LLM_GATEWAY_MODEL_CATALOG": str(path), **gateway_env}
    procs = [subprocess.Popen([sys.executable, "-m", module, "--port", str(p)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for module, p in (("bedrock_emulator", bedrock), ("openai_emulator", local))]
    procs.append(subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for p, proc in zip((bedrock, local, port), procs, strict=True):
            wait_for_port(p, proc=proc, timeout=60)
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bedrock}", f"http://127.0.0.1:{local}"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


async def measure(url: str, model: str, total: int, concurrency: int, headers: dict[str, str] | None = None,
                  text: str = "hello") -> tuple[list[float], dict[str, int]]:
    latencies: list[float] = []
    served: dict[str, int] = {}
    queue = iter(range(total))
    auth = {"Authorization": f"Bearer {KEY}", **(headers or {})}
    body = {"model": model, "messages": [{"role": "user", "content": text}], "temperature": 0}
    async with aiohttp.ClientSession() as http:
        async def worker() -> None:
            for _ in queue:
                t0 = time.perf_counter()
                async with http.post(f"{url}/v1/chat/completions", json=body, headers=auth) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                    deployment = resp.headers.get("x-gateway-cache") or resp.headers["x-gateway-deployment"]
                latencies.append((time.perf_counter() - t0) * 1000)
                served[deployment] = served.get(deployment, 0) + 1
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, served


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def row(name: str, values: list[float], base: list[float] | None, served: dict[str, int]) -> str:
    p50, p90, p99 = pct(values, 50), pct(values, 90), pct(values, 99)
    extra = "" if base is None else f"{p50 - pct(base, 50):+.2f} / {p99 - pct(base, 99):+.2f}"
    return f"| {name} | {p50:.2f} | {p90:.2f} | {p99:.2f} | {extra} | {served} |"


async def interleaved(gateway: str, bedrock: str, scenarios: list[tuple[str, str, dict[str, str], bool]],
                      total: int, concurrency: int, rounds: int = 8) -> dict[str, tuple[list[float], dict[str, int]]]:
    """Each scenario in ``rounds`` slices, taking turns, so a machine's drift hits all of them alike."""
    out: dict[str, tuple[list[float], dict[str, int]]] = {name: ([], {}) for name, *_ in scenarios}
    for _ in range(rounds):
        for name, model, headers, throttle in scenarios:
            if throttle:
                httpx.post(f"{bedrock}/_emulator/faults",
                           json={"error": "ThrottlingException", "count": -1}).raise_for_status()
            latencies, served = await measure(gateway, model, total // rounds, concurrency, headers)
            if throttle:
                httpx.delete(f"{bedrock}/_emulator/faults").raise_for_status()
            out[name][0].extend(latencies)
            for k, v in served.items():
                out[name][1][k] = out[name][1].get(k, 0) + v
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cache", action="store_true", help="also measure a cache hit against a miss")
    args = parser.parse_args()
    lines = ["| scenario | p50 ms | p90 ms | p99 ms | added vs direct p50 / p99 ms | served by |",
             "| --- | --- | --- | --- | --- | --- |"]
    scenarios = [("direct (echo-mini)", "echo-mini", {}, False),
                 ("fallback after a Bedrock 429 (breaker kept closed)", "ha", {}, True),
                 ("ha served by Bedrock (no failure)", "ha", {}, False)]
    if args.cache:
        scenarios += [("cache: miss (x-gateway-cache: refresh)", "echo-mini", {"x-gateway-cache": "refresh"}, False),
                      ("cache: hit (x-gateway-cache: on)", "echo-mini", {"x-gateway-cache": "on"}, False)]
    with processes(LLM_GATEWAY_BREAKER_FAILURES="1000000000") as (gateway, bedrock, _local):
        await measure(gateway, "echo-mini", 50, args.concurrency)  # warm-up: connections, caches
        await measure(gateway, "echo-mini", 1, 1, {"x-gateway-cache": "on"})  # fill the one cached answer
        results = await interleaved(gateway, bedrock, scenarios, args.requests, args.concurrency)
        base = results["direct (echo-mini)"][0]
        for name, (values, served) in results.items():
            lines.append(row(name, values, None if values is base else base, served))
    with processes() as (gateway, bedrock, _local):
        await measure(gateway, "echo-mini", 50, args.concurrency)
        results = await interleaved(gateway, bedrock, [
            ("direct (echo-mini), second gateway", "echo-mini", {}, False),
            ("fallback with the default breaker (opens after 5, 30 s)", "ha", {}, True)],
            args.requests, args.concurrency)
        base = results["direct (echo-mini), second gateway"][0]
        for name, (values, served) in results.items():
            lines.append(row(name, values, None if values is base else base, served))
    print(f"requests per scenario: {args.requests} in 8 interleaved rounds, concurrency {args.concurrency}, "
          f"cores: {os.cpu_count()}")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
