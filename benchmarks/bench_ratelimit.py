"""Cost of the limiter per request: admit + settle, in process vs. the real Redis (one round trip each).

    .venv/bin/python benchmarks/bench_ratelimit.py [--redis-url redis://127.0.0.1:6379/0] [-n 3000]

Sequential calls measure latency per request; the concurrent run (64 in flight) measures throughput of
one process. Only keys of a throwaway team are written, and deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from decimal import Decimal

import redis.asyncio as aioredis

from proxy.auth.principal import Limits, Principal
from proxy.limits.redis import Limiter, LocalLimiter, RedisLimiter


def typical(team_id: str) -> Principal:
    limits = Limits(rpm=10**9, tpm=10**12)
    return Principal(team_id=team_id, team_name="bench", key_id="k2", team_limits=limits)


def principal(team_id: str) -> Principal:
    # Every check enabled, so the script does its full work: RPM, TPM, concurrency and budget, team and key.
    huge = Limits(rpm=10**9, tpm=10**12, max_concurrency=10**6)
    return Principal(
        team_id=team_id, team_name="bench", key_id="k1", team_limits=huge, key_limits=huge,
        team_budget_usd=Decimal(10**6), key_budget_usd=Decimal(10**6),
    )


async def one(limiter: Limiter, who: Principal) -> float:
    started = time.perf_counter()
    admission = await limiter.admit(who, tokens=500, cost_usd=Decimal("0.002"))
    await admission.settle(tokens=420, cost_usd=Decimal("0.0017"))
    return time.perf_counter() - started


async def measure(limiter: Limiter, who: Principal, n: int) -> tuple[float, float, float]:
    for _ in range(min(200, n)):  # warm-up: script loaded, pool connected
        await one(limiter, who)
    samples = sorted([await one(limiter, who) for _ in range(n)])
    p50, p99 = statistics.median(samples), samples[int(len(samples) * 0.99) - 1]
    started = time.perf_counter()
    sem = asyncio.Semaphore(64)

    async def bounded() -> None:
        async with sem:
            await one(limiter, who)

    await asyncio.gather(*(bounded() for _ in range(n)))
    return p50 * 1e6, p99 * 1e6, n / (time.perf_counter() - started)


async def ping_pair_us(client: aioredis.Redis, n: int) -> float:
    """Baseline: two bare PING round trips, what admit + settle cannot beat."""
    for _ in range(200):
        await client.ping()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await client.ping()
        await client.ping()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


async def main(url: str, n: int) -> None:
    team_id = f"bench-{uuid.uuid4().hex[:8]}"
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=64, timeout=2)
    client = aioredis.Redis(connection_pool=pool)
    redis_limiter = RedisLimiter(client, timeout_ms=1000, policy="closed")
    limiters: list[tuple[str, Limiter, Principal]] = [
        ("in-process, all checks", LocalLimiter(), principal(team_id)),
        ("redis, all checks", redis_limiter, principal(team_id)),
        ("redis, team RPM+TPM only", redis_limiter, typical(team_id)),
    ]
    print(f"admit + settle, n={n} sequential and n={n} with 64 in flight (one process, one event loop)")
    print(f"{'limiter':<28} {'p50 µs':>9} {'p99 µs':>9} {'req/s @64':>11}")
    try:
        for name, limiter, who in limiters:
            p50, p99, rate = await measure(limiter, who, n)
            print(f"{name:<28} {p50:>9.1f} {p99:>9.1f} {rate:>11.0f}")
        print(f"{'redis 2x PING (baseline)':<28} {await ping_pair_us(client, n):>9.1f}")
    finally:
        async for key in client.scan_iter(match=f"*{{team:{team_id}}}*"):
            await client.delete(key)
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("-n", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(args.redis_url, args.n))
