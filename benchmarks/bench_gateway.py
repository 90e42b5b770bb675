"""Whole-gateway throughput on loopback: emulator upstream, gateway pinned to one core, aiohttp load.

    .venv/bin/python benchmarks/bench_gateway.py [--requests 3000] [--concurrency 64] [--redis]

Prints requests/s, latency percentiles and the gateway's own overhead (x-gateway-overhead-ms) for plain
requests, and time-to-first-token for streams. Numbers on a shared 2-core machine vary by ±15 %: compare
variants within one run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import gateway_stack

KEY = "sk-bench-" + "b" * 40


async def load(url: str, body: dict[str, object], total: int, concurrency: int, stream: bool) -> dict[str, float]:
    latencies: list[float] = []
    overheads: list[float] = []
    errors = 0
    queue = iter(range(total))
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def worker() -> None:
            nonlocal errors
            for _ in queue:
                t0 = time.perf_counter()
                async with http.post(url, json=body, headers=headers) as resp:
                    if resp.status != 200:
                        errors += 1
                        await resp.read()
                        continue
                    if stream:
                        await resp.content.readline()  # first SSE line = first token
                        latencies.append(time.perf_counter() - t0)
                        await resp.read()
                    else:
                        await resp.read()
                        latencies.append(time.perf_counter() - t0)
                        overheads.append(float(resp.headers.get("x-gateway-overhead-ms", "nan")))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "overhead_p50_ms": statistics.median(overheads) if overheads else float("nan"),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--redis", action="store_true", help="use the Redis limiter at 127.0.0.1:6379")
    args = parser.parse_args()
    extra = {"REDIS_URL": "redis://127.0.0.1:6379/0"} if args.redis else {}
    with gateway_stack(KEY, pin=True, **extra) as (url, _):
        plain = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "EMULATOR:reply=ok"}]}
        streamed = {**plain, "stream": True,
                    "messages": [{"role": "user", "content": "EMULATOR:words=20"}]}
        asyncio.run(load(url, plain, 200, args.concurrency, False))  # warm-up
        print(f"gateway on 1 core, emulator on the other; {args.requests} requests, {args.concurrency} concurrent;"
              f" limiter: {'redis' if args.redis else 'in-process'}")
        print(f"{'variant':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'overhead p50 ms':>16} {'errors':>7}")
        for name, body, stream in (("plain", plain, False), ("stream TTFT", streamed, True)):
            r = asyncio.run(load(url, body, args.requests, args.concurrency, stream))
            print(f"{name:<12} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                  f"{r['overhead_p50_ms']:>16.3f} {r['errors']:>7}")


if __name__ == "__main__":
    main()
