"""The suite's lean asyncio + aiohttp load generator, run as its own (pinned) process.

    loadgen.py MODE SPEC_JSON        MODE: open | streams | burst | closed

SPEC_JSON holds the request (url, headers, body, protocol: json | sse | eventstream, from
``targets.Target.request``) and the mode's numbers. Prints one JSON object: the mode's results plus
``cpu_s`` and ``wall_s`` of this process, so the suite can show that the load generator was not the
bottleneck.

- open: ``rate`` requests/s for ``duration`` s, each sent at its intended time whatever came back before
  (open loop); latency counts from the intended send time, so a stalled server cannot hide its queue.
- streams: ``count`` streams started at once; time to first token from the start, all finished or not.
- burst: ``count`` requests started at once; when each completed (the suite watches the emulator).
- closed: ``concurrency`` clients back to back for ``duration`` s (the fallback when wrk is missing).
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp

# A token: an SSE delta with non-empty content, or a Bedrock contentBlockDelta event.
FIRST_TOKEN = {"sse": re.compile(rb'"content":\s?"[^"]'), "eventstream": re.compile(rb"contentBlockDelta")}
DONE = {"sse": b"data: [DONE]", "eventstream": b"messageStop"}
EVENT = {"sse": b"data: ", "eventstream": b":event-type"}


def percentiles(values: list[float], quantiles: tuple[float, ...] = (0.5, 0.9, 0.99)) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {f"p{round(q * 100)}": float("nan") for q in quantiles}
    return {f"p{round(q * 100)}": ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in quantiles}


def session(spec: dict[str, Any], connections: int) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=float(spec.get("timeout", 60)))
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections, force_close=False),
                                 timeout=timeout, headers=spec["headers"])


ERRORS: Counter[str] = Counter()  # why requests failed: "status 503", "TimeoutError", ...
SAMPLES: list[str] = []  # the last bytes of the first few streams that failed


async def one(http: aiohttp.ClientSession, spec: dict[str, Any]) -> bool:
    try:
        async with http.post(spec["url"], data=spec["body"].encode()) as resp:
            await resp.read()
            if resp.status != 200:
                ERRORS[f"status {resp.status}"] += 1
            return resp.status == 200
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        ERRORS[type(exc).__name__] += 1
        return False


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    rate, duration = float(spec["rate"]), float(spec["duration"])
    latencies: list[float] = []
    errors = 0

    async def timed(http: aiohttp.ClientSession, intended: float) -> None:
        nonlocal errors
        if await one(http, spec):
            latencies.append(time.perf_counter() - intended)
        else:
            errors += 1

    total = int(rate * duration)
    async with session(spec, int(spec.get("connections", 4000))) as http:
        tasks, late = [], 0.0
        start = time.perf_counter() + 0.05
        for i in range(total):
            intended = start + i / rate
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            tasks.append(asyncio.ensure_future(timed(http, intended)))
        await asyncio.gather(*tasks)
    result = {"sent": total, "ok": len(latencies), "errors": errors, "max_send_lag_ms": late * 1000,
              "achieved_rps": len(latencies) / (time.perf_counter() - start)}
    result.update({k: v * 1000 for k, v in percentiles(latencies).items()})
    return result


async def stream_one(http: aiohttp.ClientSession, spec: dict[str, Any], start: float) -> tuple[float | None, int, bool]:
    """(time to first token, events, finished) of one stream."""
    protocol = spec["protocol"]
    token, done, event = FIRST_TOKEN[protocol], DONE[protocol], EVENT[protocol]
    ttft, events, tail, last, finished = None, 0, b"", b"", False
    try:
        async with http.post(spec["url"], data=spec["body"].encode()) as resp:
            async for chunk in resp.content.iter_any():
                window = tail + chunk
                events += window.count(event) - tail.count(event)
                if ttft is None and token.search(window):
                    ttft = time.perf_counter() - start
                finished = finished or done in window
                tail, last = window[-64:], window[-200:]
            if resp.status != 200 or not finished:
                ERRORS[f"status {resp.status}" if resp.status != 200 else "ended without its last event"] += 1
                if len(SAMPLES) < 3:
                    SAMPLES.append(last.decode(errors="replace"))
            return ttft, events, resp.status == 200 and finished
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        ERRORS[type(exc).__name__] += 1
        return ttft, events, False


async def streams(spec: dict[str, Any]) -> dict[str, Any]:
    count = int(spec["count"])
    async with session(spec, count) as http:
        start = time.perf_counter()
        results = await asyncio.gather(*(stream_one(http, spec, start) for _ in range(count)))
        wall = time.perf_counter() - start
    ttfts = [ttft for ttft, _, _ in results if ttft is not None]
    result = {"count": count, "finished": sum(1 for *_, ok in results if ok), "wall_s": wall,
              "events": sum(events for _, events, _ in results), "with_token": len(ttfts)}
    result.update({f"ttft_{k}_ms": v * 1000 for k, v in percentiles(ttfts, (0.5, 0.99)).items()})
    return result


async def burst(spec: dict[str, Any]) -> dict[str, Any]:
    count, within = int(spec["count"]), float(spec.get("within_s", 1.5))
    done_at: list[float] = []

    async def timed(http: aiohttp.ClientSession, start: float) -> bool:
        ok = await one(http, spec)
        if ok:
            done_at.append(time.perf_counter() - start)
        return ok

    async with session(spec, count) as http:
        start = time.perf_counter()
        oks = await asyncio.gather(*(timed(http, start) for _ in range(count)))
        wall = time.perf_counter() - start
    result = {"count": count, "ok": sum(oks), "wall_s": wall, "within_s": within,
              "completed_within": sum(1 for t in done_at if t <= within)}
    result.update({f"{k}_ms": v * 1000 for k, v in percentiles(done_at, (0.5, 1.0)).items()})
    return result


async def closed(spec: dict[str, Any]) -> dict[str, Any]:
    concurrency, duration = int(spec["concurrency"]), float(spec["duration"])
    ok = errors = 0

    async with session(spec, concurrency) as http:
        start = time.perf_counter()
        deadline = start + duration

        async def client() -> None:
            nonlocal ok, errors
            while time.perf_counter() < deadline:
                if await one(http, spec):
                    ok += 1
                else:
                    errors += 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {"ok": ok, "errors": errors, "rps": ok / wall}


MODES = {"open": open_loop, "streams": streams, "burst": burst, "closed": closed}


def main() -> None:
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    started = time.perf_counter()
    runner: Callable[..., Any] = asyncio.run
    try:
        import uvloop  # a faster client loop (the gateway's own dependency)

        runner = uvloop.run
    except ImportError:
        pass
    result = runner(MODES[mode](spec))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update({"cpu_s": usage.ru_utime + usage.ru_stime, "loadgen_wall_s": time.perf_counter() - started,
                   "error_kinds": dict(ERRORS), "error_samples": SAMPLES, "loop": runner.__module__})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
