"""Three OS processes, each with its own RedisLimiter on the real Redis: a 30 RPM team under a burst
of 200 concurrent admits gets exactly 30 through, and 170 RateLimited with a retry-after."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import redis

pytestmark = pytest.mark.integration

WORKER = r"""
import asyncio, json, sys
from decimal import Decimal
import redis.asyncio as aioredis
from proxy.errors import RateLimited
from proxy.auth.principal import Limits, Principal
from proxy.limits.redis import RedisLimiter

async def main(url: str, team_id: str, worker: int, n: int) -> None:
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=32, timeout=5)
    limiter = RedisLimiter(aioredis.Redis(connection_pool=pool), timeout_ms=5000, policy="closed")
    who = Principal(team_id=team_id, team_name="mp", key_id=f"k{worker}", team_limits=Limits(rpm=30))
    warm = Principal(team_id=team_id + "-warm", team_name="w", key_id="w", team_limits=Limits(rpm=1000))
    await limiter.admit(warm, tokens=1, cost_usd=Decimal(0))  # script loaded, connection open
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def one() -> list:
        try:
            await limiter.admit(who, tokens=1, cost_usd=Decimal(0))
            return ["ok", None, None]
        except RateLimited as exc:
            return ["429", exc.retry_after_s, exc.headers.get("retry-after")]

    print(json.dumps(await asyncio.gather(*(one() for _ in range(n)))), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


def test_three_processes_share_one_limit(redis_url: str) -> None:
    team_id = f"it-mp-{uuid.uuid4().hex[:12]}"
    shares = [67, 67, 66]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, team_id, str(i), str(n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for i, n in enumerate(shares)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:  # release all three bursts at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [row for proc in procs for row in json.loads(proc.communicate(timeout=30)[0])]
    finally:
        for proc in procs:
            proc.kill()
        cleanup = redis.Redis.from_url(redis_url)
        for key in cleanup.scan_iter(match=f"*{{team:{team_id}*"):
            cleanup.delete(key)
        cleanup.close()
    admitted = [r for r in results if r[0] == "ok"]
    limited = [r for r in results if r[0] == "429"]
    assert len(results) == 200 and len(admitted) == 30 and len(limited) == 170
    assert all(r[1] > 0 and int(r[2]) >= 1 for r in limited)
