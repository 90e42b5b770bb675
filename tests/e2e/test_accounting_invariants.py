"""Chaos for the books: random upstream failures and random client behaviour, one invariant.

Every call that reached Bedrock leaves exactly one usage record, its limiter slot comes back, and no
response is a 500. Seeded and bounded (150 calls) so it stays a functional test.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from tests.conftest import free_port, start_redis
from tests.e2e.conftest import Gateway, GatewayFactory
from tests.e2e.test_finops import assert_no_slot_left, new_team, wait_for_requests
from tests.e2e.test_openai_sdk import WEATHER_TOOL

pytestmark = pytest.mark.e2e

UPSTREAM = [
    "EMULATOR:reply=ok", "EMULATOR:words=30", "EMULATOR:words=40\nEMULATOR:chunk_delay_ms=15",
    "EMULATOR:error=ThrottlingException", "EMULATOR:error=InternalServerException",
    "EMULATOR:error=ValidationException", "EMULATOR:stream_error_after=3", "EMULATOR:stream_error_after=0",
    "EMULATOR:truncate_after=4", "EMULATOR:usage=0,0\nEMULATOR:reply=free", "EMULATOR:delay_ms=300",
    "EMULATOR:tool", "EMULATOR:parallel_tools=3\nEMULATOR:text_before_tool", "EMULATOR:stop=max_tokens",
]
CLIENT = ["read_all", "read_all", "close_after_lines", "close_after_done", "timeout"]


async def one_call(http: httpx.AsyncClient, key: str, rng: random.Random) -> int | None:
    directive = rng.choice(UPSTREAM)
    body: dict[str, object] = {"model": "claude-3-haiku", "max_tokens": 200, "stream": rng.random() < 0.6,
                               "messages": [{"role": "user", "content": directive}]}
    if "tool" in directive:
        body["tools"] = [WEATHER_TOOL]
    behaviour = rng.choice(CLIENT)
    headers = {"Authorization": f"Bearer {key}"}
    timeout = httpx.Timeout(30, read=0.15) if behaviour == "timeout" else httpx.Timeout(30)
    try:
        async with http.stream("POST", "/v1/chat/completions", json=body, headers=headers,
                               timeout=timeout) as response:
            lines = 0
            async for line in response.aiter_lines():
                lines += 1
                if behaviour == "close_after_lines" and lines >= rng.randint(1, 6):
                    break
                if behaviour == "close_after_done" and line == "data: [DONE]":
                    break
            return response.status_code
    except httpx.TimeoutException:
        return None


def test_every_call_that_reached_bedrock_is_recorded_once_and_settled(
    start_gateway: GatewayFactory, redis_url: str, emulator_url: str
) -> None:
    gateway: Gateway = start_gateway(REDIS_URL=redis_url)
    team_id, key = new_team(gateway, limits={"max_concurrency": 1000})
    before = httpx.get(f"{emulator_url}/_emulator/calls").json()["total"]
    rng = random.Random(20261127)

    async def traffic() -> list[int | None]:
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            statuses: list[int | None] = []
            for _ in range(10):
                statuses += await asyncio.gather(*(one_call(http, key, random.Random(rng.random()))
                                                   for _ in range(15)))
            return statuses

    statuses = asyncio.run(traffic())
    assert 500 not in statuses
    assert {200, 429, 400}.issubset(set(statuses))  # successes and both kinds of upstream refusals
    reached = httpx.get(f"{emulator_url}/_emulator/calls").json()["total"] - before
    # Every call reached Bedrock (the emulator answers even its errors), so each one is billed and kept.
    assert reached == 150
    report = wait_for_requests(gateway, key, reached, timeout=15)
    assert report["summary"]["total_requests"] == reached  # type: ignore[index]
    assert_no_slot_left(redis_url, team_id)


def test_redis_outage_during_streams_loses_nothing_and_recovers_once(
    start_gateway: GatewayFactory, emulator_url: str
) -> None:
    # Redis is killed under streaming traffic and restarted 1.5 s later (policy "open": per-process
    # limits meanwhile). Every call is still recorded, nobody sees a 500, and the limiter recovers once:
    # the idle pooled connections Redis took with it must not fail one by one afterwards.
    port = free_port()
    redis_proc = start_redis(port)
    gateway = start_gateway(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    try:
        _, key = new_team(gateway, limits={"max_concurrency": 1000}, monthly_budget_usd="100")
        before = httpx.get(f"{emulator_url}/_emulator/calls").json()["total"]
        body = {"model": "claude-3-haiku", "stream": True, "max_tokens": 100,
                "messages": [{"role": "user", "content": "EMULATOR:words=30 EMULATOR:chunk_delay_ms=20"}]}
        statuses: list[int] = []

        async def one(http: httpx.AsyncClient) -> None:
            async with http.stream("POST", "/v1/chat/completions", json=body,
                                   headers={"Authorization": f"Bearer {key}"}) as response:
                statuses.append(response.status_code)
                async for _ in response.aiter_lines():
                    pass

        async def traffic() -> None:
            nonlocal redis_proc

            async def outage() -> None:
                nonlocal redis_proc
                await asyncio.sleep(0.5)
                redis_proc.kill()
                redis_proc.wait()
                await asyncio.sleep(1.5)
                redis_proc = start_redis(port)

            async def waves(http: httpx.AsyncClient) -> None:
                for _ in range(8):
                    await asyncio.gather(*(one(http) for _ in range(15)))
                    await asyncio.sleep(0.2)

            async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
                await asyncio.gather(outage(), waves(http))

        asyncio.run(traffic())
        reached = httpx.get(f"{emulator_url}/_emulator/calls").json()["total"] - before
        assert statuses == [200] * 120 and reached == 120
        report = wait_for_requests(gateway, key, reached, timeout=15)
        assert report["summary"]["total_requests"] == reached  # type: ignore[index]
        logs = gateway.logs()
        assert logs.count("Redis rate limiter unavailable") == 1
        assert logs.count("Redis rate limiter available again") == 1
    finally:
        redis_proc.kill()
        redis_proc.wait()
