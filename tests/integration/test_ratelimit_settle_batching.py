"""Settles share round trips (one pipeline per batch) and survive Redis losing its script cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from proxy.limits.redis import RedisLimiter
from tests.integration.test_ratelimit_redis import client, team

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = client(redis_url)
    yield redis
    async for key in redis.scan_iter(match="*{team:it-*"):
        await redis.delete(key)
    await redis.aclose()


async def test_concurrent_settles_share_pipelines(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RedisLimiter(redis_client)
    principal = team(rpm=1000, max_concurrency=100)
    admissions = [await limiter.admit(principal, tokens=1, cost_usd=Decimal(0)) for _ in range(100)]
    pipelines = 0
    real_pipeline = redis_client.pipeline

    def counting_pipeline(*args: object, **kwargs: object) -> object:
        nonlocal pipelines
        pipelines += 1
        return real_pipeline(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(redis_client, "pipeline", counting_pipeline)
    await asyncio.gather(*(a.settle(tokens=1, cost_usd=Decimal(0)) for a in admissions))
    assert pipelines < 10  # 100 settles, a handful of round trips
    # Every slot came back: 100 more requests fit under max_concurrency=100.
    again = [await limiter.admit(principal, tokens=1, cost_usd=Decimal(0)) for _ in range(100)]
    assert len(again) == 100
    await limiter.close()


async def test_settle_survives_script_flush(redis_client: aioredis.Redis) -> None:
    limiter = RedisLimiter(redis_client)
    principal = team(rpm=1000, max_concurrency=1)
    first = await limiter.admit(principal, tokens=1, cost_usd=Decimal(0))
    await redis_client.script_flush()
    await first.settle(tokens=1, cost_usd=Decimal(0))
    second = await limiter.admit(principal, tokens=1, cost_usd=Decimal(0))  # the slot was released
    await second.settle(tokens=1, cost_usd=Decimal(0))
    await limiter.close()
