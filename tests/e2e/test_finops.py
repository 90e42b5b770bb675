"""Usage and cost end to end: exact sums after mixed traffic, nothing lost on SIGTERM, CSV chargeback."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from decimal import Decimal

import httpx
import openai
import pytest
import redis

from tests.e2e.conftest import Gateway, GatewayFactory
from tests.e2e.test_openai_sdk import WEATHER_TOOL, user

pytestmark = pytest.mark.e2e


def new_team(gateway: Gateway, **fields: object) -> tuple[str, str]:
    team_id = "fin-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        assert admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id, **fields}).status_code == 201
        return team_id, admin.post("/admin/keys", json={"team_id": team_id}).json()["key"]


def usage(gateway: Gateway, key: str, days: int = 1) -> dict[str, object]:
    response = httpx.get(f"{gateway.base_url}/usage", params={"days": days}, headers={"x-api-key": key})
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for_requests(gateway: Gateway, key: str, expected: int, timeout: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        report = usage(gateway, key)
        if report["summary"]["total_requests"] >= expected or time.monotonic() > deadline:  # type: ignore[index]
            return report
        time.sleep(0.1)


def test_exact_sums_after_mixed_traffic(gateway: Gateway) -> None:
    team_id, key = new_team(gateway, cost_center="CC-42")
    client = gateway.client(key)
    tokens, cost, reached_bedrock = 0, Decimal(0), 0
    for model in ("claude-3-haiku", "nova-pro"):
        done = client.chat.completions.create(model=model, messages=user("EMULATOR:reply=plain answer"))
        tokens += done.usage.total_tokens  # type: ignore[union-attr]
        cost += Decimal(str(done.model_extra["gateway_metadata"]["cost_usd"]))  # type: ignore[index]
        tool = client.chat.completions.create(
            model=model, messages=user("weather? EMULATOR:tool"), tools=[WEATHER_TOOL]
        )
        tokens += tool.usage.total_tokens  # type: ignore[union-attr]
        cost += Decimal(str(tool.model_extra["gateway_metadata"]["cost_usd"]))  # type: ignore[index]
        chunks = list(client.chat.completions.create(
            model=model, messages=user("EMULATOR:words=30"), stream=True, stream_options={"include_usage": True}
        ))
        tokens += chunks[-1].usage.total_tokens  # type: ignore[union-attr]
        cost += Decimal(str(chunks[-1].model_extra["gateway_metadata"]["cost_usd"]))  # type: ignore[index]
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model=model, messages=user("EMULATOR:error=ThrottlingException:429"))
        reached_bedrock += 4
    report = wait_for_requests(gateway, key, reached_bedrock)
    summary = report["summary"]
    assert report["team_id"] == team_id
    assert summary["total_requests"] == reached_bedrock  # type: ignore[index]
    assert summary["total_tokens"] == tokens  # type: ignore[index]
    assert Decimal(str(summary["total_cost_usd"])) == pytest.approx(cost, abs=Decimal("0.000000001"))  # type: ignore[index]
    assert [m["model"] for m in report["by_model"]] == ["claude-3-haiku", "nova-pro"]  # type: ignore[attr-defined]
    with gateway.admin() as admin:
        today = time.strftime("%Y-%m-%d", time.gmtime())
        csv = admin.get("/admin/usage", params={"from": today, "to": today, "group_by": "cost_center",
                                                "format": "csv"})
    assert csv.status_code == 200 and "CC-42" in csv.text


def test_usage_days_validation_and_isolation(gateway: Gateway) -> None:
    _, key_a = new_team(gateway)
    _, key_b = new_team(gateway)
    gateway.client(key_a).chat.completions.create(model="claude-3-haiku", messages=user("EMULATOR:reply=a"))
    assert wait_for_requests(gateway, key_a, 1)["summary"]["total_requests"] == 1  # type: ignore[index]
    assert usage(gateway, key_b)["summary"]["total_requests"] == 0  # type: ignore[index]
    for bad in ("-1", "0", "100000", "abc"):
        response = httpx.get(f"{gateway.base_url}/usage", params={"days": bad}, headers={"x-api-key": key_a})
        assert response.status_code == 400 and response.json()["error"]["param"] == "days"


def test_sigterm_under_load_loses_no_usage(
    start_gateway: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = str(tmp_path_factory.mktemp("sigterm") / "gateway.db")
    # A long flush interval: everything is still in memory when SIGTERM arrives.
    first = start_gateway(LLM_GATEWAY_SQLITE_PATH=db, LLM_GATEWAY_USAGE_FLUSH_INTERVAL_S="600")
    _, key = new_team(first)

    async def traffic() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as http:
            responses = await asyncio.gather(*(
                http.post(f"{first.base_url}/chat/completions", headers={"Authorization": f"Bearer {key}"},
                          json={"model": "claude-3-haiku", "messages": user("EMULATOR:reply=ok EMULATOR:delay_ms=50")})
                for _ in range(60)
            ), return_exceptions=True)
        return [r.status_code for r in responses if isinstance(r, httpx.Response)]

    async def traffic_then_sigterm() -> list[int]:
        task = asyncio.create_task(traffic())
        await asyncio.sleep(0.3)
        first.proc.send_signal(signal.SIGTERM)
        return await task

    statuses = asyncio.run(traffic_then_sigterm())
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it.
    assert first.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in first.logs()
    answered = statuses.count(200)
    assert answered > 0
    second = start_gateway(LLM_GATEWAY_SQLITE_PATH=db)
    report = wait_for_requests(second, key, answered)
    assert report["summary"]["total_requests"] == answered  # type: ignore[index]


def test_client_supplied_request_ids_never_merge_usage_records(gateway: Gateway) -> None:
    """The usage idempotency key is the gateway's own id: a client reusing one id loses nothing."""
    _, key = new_team(gateway)
    headers = {"Authorization": f"Bearer {key}", "x-request-id": "same-id-every-time"}
    body = {"model": "claude-3-haiku", "messages": user("EMULATOR:reply=ok")}
    ids = set()
    for _ in range(3):
        response = httpx.post(f"{gateway.base_url}/chat/completions", json=body, headers=headers)
        assert response.headers["x-client-request-id"] == "same-id-every-time"
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 3
    assert wait_for_requests(gateway, key, 3)["summary"]["total_requests"] == 3  # type: ignore[index]


def test_key_budget_survives_a_restart_of_the_embedded_gateway(
    start_gateway: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The in-process limiter starts empty: the key's month-to-date spend must come from the usage store.
    db = str(tmp_path_factory.mktemp("key-budget") / "gateway.db")
    first = start_gateway(LLM_GATEWAY_SQLITE_PATH=db)
    team_id, _ = new_team(first)  # the team itself has no budget
    with first.admin() as admin:
        created = admin.post("/admin/keys", json={"team_id": team_id, "monthly_budget_usd": "0.00005"})
        assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["key_id"]
    body = {"model": "claude-3-haiku", "max_tokens": 20, "messages": user("EMULATOR:reply=ok")}
    headers = {"Authorization": f"Bearer {key}"}
    statuses = []
    for _ in range(40):
        statuses.append(httpx.post(f"{first.base_url}/chat/completions", json=body, headers=headers).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429 and statuses.count(200) >= 2, statuses
    first.stop()  # SIGTERM: usage flushed to the store

    second = start_gateway(LLM_GATEWAY_SQLITE_PATH=db)
    response = httpx.post(f"{second.base_url}/chat/completions", json=body, headers=headers)
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "insufficient_quota" and f"on key {key_id}" in error["message"]


def assert_no_slot_left(redis_url: str, team_id: str, timeout: float = 5) -> None:
    """No concurrency slot of the team is still held in Redis (settles are pipelined: allow a moment)."""
    client = redis.Redis.from_url(redis_url)
    key, deadline = f"rl:{{team:{team_id}}}:conc:team", time.monotonic() + timeout
    while client.zcard(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    held = client.zcard(key)
    client.close()
    assert held == 0, f"{held} concurrency slot(s) never given back"


def test_streams_closed_right_after_done_are_all_recorded(start_gateway: GatewayFactory, redis_url: str) -> None:
    # A client closes the connection as soon as it has read [DONE]; the relay is then cancelled while it
    # settles the limiter (a Redis round trip). The usage record and the settle must survive that.
    gateway = start_gateway(REDIS_URL=redis_url)
    team_id, key = new_team(gateway, limits={"max_concurrency": 1000})
    body = {"model": "claude-3-haiku", "stream": True, "messages": user("EMULATOR:words=3")}

    async def one(http: httpx.AsyncClient) -> None:
        async with http.stream("POST", "/v1/chat/completions", json=body,
                               headers={"Authorization": f"Bearer {key}"}) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    break  # and close at once

    async def traffic() -> None:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            for _ in range(10):
                await asyncio.gather(*(one(http) for _ in range(20)))

    asyncio.run(traffic())
    assert wait_for_requests(gateway, key, 200)["summary"]["total_requests"] == 200  # type: ignore[index]
    assert_no_slot_left(redis_url, team_id)  # every settle landed too


def test_client_gone_before_the_first_event_is_recorded_and_upstream_closed(
    start_gateway: GatewayFactory, redis_url: str, emulator_url: str
) -> None:
    # The client times out while the gateway waits for Bedrock's first event: the relay never starts,
    # yet the Bedrock stream must be closed (it bills while it runs) and the call recorded and settled.
    gateway = start_gateway(REDIS_URL=redis_url)
    _, key = new_team(gateway, limits={"max_concurrency": 1})
    before = httpx.get(f"{emulator_url}/_emulator/calls").json()["disconnects"]
    body = {"model": "claude-3-haiku", "stream": True,
            "messages": user("EMULATOR:delay_ms=600 EMULATOR:words=50 EMULATOR:chunk_delay_ms=100")}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.base_url}/chat/completions", json=body, timeout=0.3,
                   headers={"Authorization": f"Bearer {key}"})
    report = wait_for_requests(gateway, key, 1)
    assert report["summary"]["total_requests"] == 1  # type: ignore[index]
    deadline = time.monotonic() + 5
    while httpx.get(f"{emulator_url}/_emulator/calls").json()["disconnects"] == before:
        assert time.monotonic() < deadline, "the upstream stream was not closed"
        time.sleep(0.05)
    # The concurrency slot came back: the next request is admitted.
    ok = httpx.post(f"{gateway.base_url}/chat/completions", headers={"Authorization": f"Bearer {key}"},
                    json={"model": "claude-3-haiku", "messages": user("EMULATOR:reply=ok")})
    assert ok.status_code == 200, ok.text
