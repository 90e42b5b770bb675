"""The Anthropic SDK, unmodified, against /v1/messages: plain, streaming, tools, thinking, count_tokens,
models, every error class; Claude natively through InvokeModel, other models through Converse; metered."""

from __future__ import annotations

import time
import uuid
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.conftest import DEMO_KEY, Gateway

pytestmark = pytest.mark.e2e

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def client(gateway: Gateway, key: str = DEMO_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("model", ["claude-3-haiku", "claude-sonnet-4-5-20250929", "nova-pro"])
def test_plain_message(gateway: Gateway, model: str) -> None:
    message = client(gateway).messages.create(model=model, max_tokens=256,
                                              messages=user("EMULATOR:reply=hello from bedrock"))
    assert message.type == "message" and message.role == "assistant" and message.model == model
    assert message.content[0].type == "text" and message.content[0].text == "hello from bedrock"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["claude-3-haiku", "nova-lite"])
def test_streaming_with_the_sdk_helper(gateway: Gateway, model: str) -> None:
    with client(gateway).messages.stream(model=model, max_tokens=256,
                                         messages=user("EMULATOR:reply=one two three four five")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one two three four five"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0 and final.usage.input_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip(gateway: Gateway, stream: bool) -> None:
    c = client(gateway)
    ask = user("weather in Paris? EMULATOR:tool")
    if stream:
        with c.messages.stream(model="claude-3-haiku", max_tokens=256, messages=ask, tools=[WEATHER]) as s:
            first = s.get_final_message()
    else:
        first = c.messages.create(model="claude-3-haiku", max_tokens=256, messages=ask, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "get_weather" and isinstance(use.input, dict)
    follow = c.messages.create(model="claude-3-haiku", max_tokens=256, tools=[WEATHER], messages=[
        *ask, {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21C"}]},
    ])
    assert follow.stop_reason == "end_turn" and follow.content[0].type == "text"


def test_thinking_blocks_round_trip_with_their_signatures(gateway: Gateway) -> None:
    c = client(gateway)
    first = c.messages.create(model="claude-sonnet-4-5", max_tokens=2048,
                              thinking={"type": "enabled", "budget_tokens": 1024}, messages=user("think, then answer"))
    thinking = next(b for b in first.content if b.type == "thinking")
    assert thinking.signature
    again = c.messages.create(model="claude-sonnet-4-5", max_tokens=2048,
                              thinking={"type": "enabled", "budget_tokens": 1024}, messages=[
                                  *user("think, then answer"),
                                  {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                                  *user("and again")])
    assert any(b.type == "text" for b in again.content)


def test_count_tokens_and_models(gateway: Gateway) -> None:
    c = client(gateway)
    counted = c.messages.count_tokens(model="claude-3-haiku", messages=user("how many tokens is this?"))
    assert counted.input_tokens > 0
    estimated = c.messages.count_tokens(model="nova-pro", messages=user("how many tokens is this?"))
    assert estimated.input_tokens > 0  # the gateway's estimate for models without CountTokens
    models = c.models.list()
    ids = [m.id for m in models.data]
    assert "claude-3-haiku" in ids and "claude-sonnet-4-5" in ids and all(m.type == "model" for m in models.data)


def test_error_classes(gateway: Gateway) -> None:
    c = client(gateway)
    with pytest.raises(anthropic.AuthenticationError) as auth:
        client(gateway, "sk-wrong-" + "x" * 40).messages.create(model="claude-3-haiku", max_tokens=5,
                                                                messages=user("x"))
    assert auth.value.body["type"] == "error" and auth.value.body["error"]["type"] == "authentication_error"
    assert auth.value.response.headers.get("request-id")
    with pytest.raises(anthropic.NotFoundError):
        c.messages.create(model="no-such-model", max_tokens=5, messages=user("x"))
    with pytest.raises(anthropic.BadRequestError) as bad:
        c.messages.create(model="claude-3-haiku", max_tokens=5, messages=[])
    assert bad.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.RateLimitError) as limited:
        c.messages.create(model="claude-3-haiku", max_tokens=5, messages=user("EMULATOR:error=ThrottlingException:429"))
    assert limited.value.response.headers.get("retry-after")
    with pytest.raises(anthropic.InternalServerError) as down:
        c.messages.create(model="claude-3-haiku", max_tokens=5,
                          messages=user("EMULATOR:error=ServiceUnavailableException:503"))
    assert down.value.body["error"]["type"] == "overloaded_error"


def test_a_failure_mid_stream_is_an_error_event_the_sdk_raises(gateway: Gateway) -> None:
    with pytest.raises(anthropic.APIError), client(gateway).messages.stream(
        model="claude-3-haiku", max_tokens=256, messages=user("EMULATOR:words=30 EMULATOR:truncate_after=5")
    ) as stream:
        for _ in stream.text_stream:
            pass


def test_messages_are_metered_and_budgeted_like_chat(gateway: Gateway) -> None:
    team_id = "anth-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        assert admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id,
                                                "monthly_budget_usd": "0.0001"}).status_code == 201
        key = admin.post("/admin/keys", json={"team_id": team_id}).json()["key"]
    c = client(gateway, key)
    c.messages.create(model="claude-3-haiku", max_tokens=10, messages=user("EMULATOR:reply=ok"))
    with c.messages.stream(model="claude-3-haiku", max_tokens=10, messages=user("EMULATOR:reply=ok")) as s:
        s.get_final_message()
    statuses = []
    for _ in range(40):
        try:
            c.messages.create(model="claude-3-haiku", max_tokens=10, messages=user("EMULATOR:reply=spend"))
            statuses.append(200)
        except anthropic.RateLimitError as exc:
            statuses.append(429)
            assert exc.body["error"]["type"] == "rate_limit_error"
            break
    assert statuses[-1] == 429  # the budget applies to /v1/messages as to chat completions
    served = statuses.count(200) + 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        report = httpx.get(f"{gateway.base_url}/usage?days=1", headers={"x-api-key": key}).json()
        if report["summary"]["total_requests"] >= served:
            break
        time.sleep(0.2)
    assert report["summary"]["total_requests"] == served and report["summary"]["total_cost_usd"] > 0
    with gateway.admin() as admin:  # the chargeback CSV counts them too, exactly
        csv = admin.get("/admin/usage", params={"team_id": team_id, "group_by": "team", "format": "csv"}).text
    header, row = csv.strip().splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["requests"] == str(served)


def test_the_books_say_which_api_and_which_session(gateway: Gateway) -> None:
    import sqlite3

    key = DEMO_KEY
    session = "sess-" + uuid.uuid4().hex[:8]
    anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0,
                        default_headers={"X-Claude-Code-Session-Id": session}).messages.create(
        model="claude-3-haiku", max_tokens=10, messages=user("EMULATOR:reply=ok"))
    deadline = time.monotonic() + 10
    rows: list[tuple[str, str | None]] = []
    while time.monotonic() < deadline and not rows:
        with sqlite3.connect(gateway.env["LLM_GATEWAY_SQLITE_PATH"]) as conn:
            rows = conn.execute("SELECT route, session_id FROM usage_records WHERE session_id = ?",
                                (session,)).fetchall()
        time.sleep(0.2)
    assert rows == [("messages", session)]
