"""Hardening (High items 1 and 2), reproduced as the probe did against a real gateway process.

1. JSON nested hundreds of levels deep in forwarded fields: a clear 400 before admission, and nothing
   held afterwards (a team with max_concurrency=1 and a $0.02 budget is still served).
2. A model the catalog does not price cannot drain a budget at $0: 403 model_not_priced for a team or
   key with a budget, unless the operator sets LLM_GATEWAY_UNPRICED_MODEL_PRICE (then it is charged).
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Gateway, GatewayFactory

pytestmark = pytest.mark.e2e

UNPRICED = "anthropic.claude-opus-4-20250514-v1:0"  # a raw Bedrock id the packaged catalog does not price
USER = [{"role": "user", "content": "EMULATOR:reply=ok"}]


DEEP = "__DEEP__"  # replaced by JSON nested LEVELS deep: more than orjson.dumps (254) and json (~1000) take
LEVELS = 300


def deep_json(levels: int = LEVELS) -> str:
    return '{"type": "object", "properties": {"x": ' * (levels // 2) + '{"type": "string"}' + "}}" * (levels // 2)


def new_team(gateway: Gateway, **fields: object) -> tuple[str, str]:
    team_id = "hard-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        created = admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id, **fields})
        assert created.status_code == 201, created.text
        return team_id, admin.post("/admin/keys", json={"team_id": team_id}).json()["key"]


def chat(gateway: Gateway, key: str, **body: Any) -> httpx.Response:
    raw = json.dumps({"model": "claude-3-haiku", "messages": USER, **body}).replace(f'"{DEEP}"', deep_json())
    raw = raw.replace(DEEP, deep_json().replace('"', '\\"'))  # inside a JSON string (tool call arguments)
    return httpx.post(f"{gateway.base_url}/chat/completions", timeout=30, content=raw,
                      headers={"Authorization": f"Bearer {key}", "content-type": "application/json"})


TOOL = {"type": "function", "function": {"name": "f", "parameters": DEEP}}
DEEP_BODIES = {
    "tools[].function.parameters": {"tools": [TOOL]},
    "strict tool": {"tools": [{**TOOL, "function": {**TOOL["function"], "strict": True}}]},
    "response_format schema": {"response_format": {"type": "json_schema",
                                                    "json_schema": {"name": "s", "schema": DEEP}}},
    "additionalModelRequestFields": {"additionalModelRequestFields": {"x": DEEP}},
    "tool call arguments": {"messages": [
        *USER, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": f"{{\"a\": {DEEP}}}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"}]},
}


def test_deep_json_is_a_400_and_leaks_nothing(gateway: Gateway) -> None:
    _, key = new_team(gateway, limits={"max_concurrency": 1}, monthly_budget_usd="0.02")
    for name, extra in DEEP_BODIES.items():
        for _ in range(2):  # twice: the first one must not have kept the only concurrency slot
            response = chat(gateway, key, **extra)
            assert response.status_code == 400, (name, response.status_code, response.text[:300])
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error" and "deep" in error["message"], (name, error)
    served = chat(gateway, key)  # neither the slot nor the $0.02 budget went to the refused requests
    assert served.status_code == 200, served.text


def test_unpriced_model_is_refused_to_a_budget_and_served_without_one(gateway: Gateway) -> None:
    _, budgeted = new_team(gateway, monthly_budget_usd="0.01")
    refused = chat(gateway, budgeted, model=UNPRICED, max_tokens=2_000_000)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "model_not_priced" and error["param"] == "model" and UNPRICED in error["message"]
    _, unbudgeted = new_team(gateway)
    served = chat(gateway, unbudgeted, model=UNPRICED)
    assert served.status_code == 200, served.text
    assert served.headers["x-gateway-cost-priced"] == "false"  # the README's promise, on a real response
    assert served.json()["gateway_metadata"]["priced"] is False


@pytest.fixture(scope="module")
def fallback_gateway(start_gateway: GatewayFactory) -> Gateway:
    return start_gateway(LLM_GATEWAY_UNPRICED_MODEL_PRICE="0.015,0.075")


def test_with_a_fallback_price_unpriced_calls_count_against_the_budget(fallback_gateway: Gateway) -> None:
    _, key = new_team(fallback_gateway, monthly_budget_usd="0.0005")
    first = chat(fallback_gateway, key, model=UNPRICED, max_tokens=5)
    assert first.status_code == 200, first.text
    assert Decimal(first.headers["x-gateway-cost-usd"]) > 0
    assert first.headers["x-gateway-cost-priced"] == "false"  # a stand-in price, flagged as such
    statuses = [chat(fallback_gateway, key, model=UNPRICED, max_tokens=5).status_code for _ in range(40)]
    assert 429 in statuses  # the budget fills up: insufficient_quota, as with any priced model
    last = chat(fallback_gateway, key, model=UNPRICED, max_tokens=5)
    assert last.status_code == 429 and last.json()["error"]["code"] == "insufficient_quota"


def test_a_prompt_far_beyond_the_context_window_is_refused_like_openai(gateway: Gateway) -> None:
    """A 10 MB prompt (~2.6M tokens) to Claude 3 Haiku (200k): 400 context_length_exceeded, no Bedrock call."""
    import openai

    _, key = new_team(gateway)
    with pytest.raises(openai.BadRequestError) as err:
        gateway.client(key).chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "word " * 2_000_000}])
    assert err.value.code == "context_length_exceeded" and err.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as too_many:
        gateway.client(key).chat.completions.create(model="claude-3-haiku", messages=USER, max_tokens=100_000)
    assert too_many.value.param == "max_tokens"


def test_a_weak_admin_key_stops_the_gateway_at_startup(start_gateway: GatewayFactory) -> None:
    """Hardening #10: LLM_GATEWAY_ADMIN_KEY=a was accepted without a word."""
    with pytest.raises(RuntimeError) as failed:
        start_gateway(LLM_GATEWAY_ADMIN_KEY="a")
    assert "LLM_GATEWAY_ADMIN_KEY has 1 characters; use at least 32" in str(failed.value)


def test_admin_guesses_are_throttled_per_address(start_gateway: GatewayFactory) -> None:
    throttled = start_gateway(LLM_GATEWAY_ADMIN_FAILURES_PER_MINUTE="10")
    statuses = [httpx.get(f"{throttled.url}/admin/teams", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                for i in range(30)]
    assert statuses[:10] == [403] * 10 and set(statuses[10:]) == {429}
    refused = httpx.get(f"{throttled.url}/admin/teams", headers={"Authorization": "Bearer guess"})
    assert refused.json()["error"]["code"] == "too_many_failed_attempts" and "retry-after" in refused.headers
    assert httpx.get(f"{throttled.base_url}/models",  # team keys are not affected by admin guessing
                     headers={"Authorization": f"Bearer {throttled.env['LLM_GATEWAY_DEMO_KEY']}"}).status_code == 200


def test_ready_names_what_is_missing_without_secrets(gateway: Gateway, start_gateway: GatewayFactory) -> None:
    ready = httpx.get(f"{gateway.url}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"key_store": "ok", "usage_store": "ok",
                                                          "provider:bedrock": "ok"}}
    from tests.conftest import free_port

    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    degraded = start_gateway(REDIS_URL=dead_redis)
    answer = httpx.get(f"{degraded.url}/ready", timeout=10)
    assert answer.status_code == 503 and answer.json()["checks"]["redis"].startswith("failing")
    assert dead_redis not in answer.text
    assert httpx.get(f"{degraded.url}/health").json()["status"] == "healthy"  # alive, just not ready
