"""Gateway behaviours a demanding user checks: disconnects, vendor extensions, profiles, allow-lists, secrecy."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import DEMO_KEY, Gateway, GatewayFactory
from tests.e2e.test_openai_sdk import WEATHER_TOOL, user

pytestmark = pytest.mark.e2e


def last_request(emulator_url: str) -> dict[str, object]:
    return dict(httpx.get(f"{emulator_url}/_emulator/last_request").json())


def usage_rows(gateway: Gateway, request_id: str) -> list[sqlite3.Row]:
    with sqlite3.connect(gateway.env["LLM_GATEWAY_SQLITE_PATH"]) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM usage_records WHERE request_id = ?", (request_id,)).fetchall()


def wait_for_row(gateway: Gateway, request_id: str, timeout: float = 5.0) -> sqlite3.Row:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = usage_rows(gateway, request_id)
        if rows:
            return rows[0]
        time.sleep(0.05)
    raise AssertionError(f"no usage record for {request_id}")


def test_client_disconnect_cancels_upstream_and_records_usage(gateway: Gateway, emulator_url: str) -> None:
    """PITFALLS #38/#40: the Bedrock stream is closed and what was generated is still recorded."""
    before = httpx.get(f"{emulator_url}/_emulator/calls").json()["disconnects"]
    body = {"model": "claude-3-haiku", "stream": True,
            "messages": user("EMULATOR:words=400 EMULATOR:chunk_delay_ms=50")}
    with httpx.Client(timeout=30) as http, http.stream(
        "POST", f"{gateway.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {DEMO_KEY}"}
    ) as response:
        request_id = response.headers["x-request-id"]
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    deadline = time.monotonic() + 3
    while httpx.get(f"{emulator_url}/_emulator/calls").json()["disconnects"] == before:
        assert time.monotonic() < deadline, "the upstream stream was not cancelled"
        time.sleep(0.05)
    row = wait_for_row(gateway, request_id)
    assert row["status"] == "client_disconnected" and row["streaming"]
    assert row["estimated"] and row["prompt_tokens"] > 0


def test_extra_body_thinking_returns_reasoning_content(gateway: Gateway) -> None:
    """PITFALLS #22/#34: extended thinking via extra_body; reasoning never mixed into content."""
    completion = gateway.client().chat.completions.create(
        model="claude-3-7-sonnet", messages=user("EMULATOR:reply=42"), max_tokens=2048,
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    message = completion.choices[0].message
    assert message.content == "42"
    assert message.model_extra and message.model_extra.get("reasoning_content")
    chunks = list(gateway.client().chat.completions.create(
        model="claude-3-7-sonnet", messages=user("EMULATOR:reply=42"), stream=True, reasoning_effort="low",
    ))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in chunks if c.choices)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning and content == "42"


def test_guardrail_config_is_forwarded(gateway: Gateway, emulator_url: str) -> None:
    guardrail = {"guardrailIdentifier": "gr-123", "guardrailVersion": "1"}
    gateway.client().chat.completions.create(
        model="claude-3-haiku", messages=user("EMULATOR:reply=ok"), extra_body={"guardrailConfig": guardrail}
    )
    assert last_request(emulator_url)["body"]["guardrailConfig"] == guardrail  # type: ignore[index]


@pytest.mark.parametrize("model_id", [
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "global.anthropic.claude-sonnet-4-20250514-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5",
])
def test_profile_ids_and_arns_reach_bedrock_intact(gateway: Gateway, emulator_url: str, model_id: str) -> None:
    """PITFALLS #32: profile ids and ARNs, URL-encoded in the path and signed as such."""
    completion = gateway.client().chat.completions.create(model=model_id, messages=user("EMULATOR:reply=ok"))
    assert completion.model == model_id and completion.choices[0].message.content == "ok"
    assert last_request(emulator_url)["modelId"] == model_id


def test_tools_request_sends_tool_config(gateway: Gateway, emulator_url: str) -> None:
    """PITFALLS #33: the outgoing Converse body for a tools request contains toolConfig."""
    gateway.client().chat.completions.create(model="claude-3-haiku", messages=user("hi"), tools=[WEATHER_TOOL])
    body = last_request(emulator_url)["body"]
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"  # type: ignore[index]


def test_model_allow_list_is_enforced_and_filters_models(gateway: Gateway) -> None:
    team_id = "allow-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id, "allowed_models": ["nova-lite"]})
        key = admin.post("/admin/keys", json={"team_id": team_id}).json()["key"]
    client = gateway.client(key)
    assert [m.id for m in client.models.list()] == ["nova-lite"]
    assert client.chat.completions.create(model="nova-lite", messages=user("EMULATOR:reply=ok")).choices
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(model="claude-3-haiku", messages=user("x"))
    assert denied.value.code == "model_not_allowed"


def test_every_auth_outcome_with_both_header_styles(gateway: Gateway) -> None:
    team_id = "auth-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id})
        created = admin.post("/admin/keys", json={"team_id": team_id}).json()
        expired = admin.post("/admin/keys", json={"team_id": team_id, "expires_at": "2020-01-01T00:00:00Z"})
        assert gateway.client(created["key"]).models.list().data
        x_api_key = httpx.get(f"{gateway.base_url}/models", headers={"x-api-key": created["key"]})
        assert x_api_key.status_code == 200 and x_api_key.json()["data"]
        assert admin.post(f"/admin/keys/{created['key_id']}/revoke").status_code == 200
    for bad in (created["key"], "sk-gw-" + "x" * 50, "nonsense-key-value"):
        with pytest.raises(openai.AuthenticationError) as info:
            gateway.client(bad).models.list()
        assert info.value.code == "invalid_api_key" and bad not in info.value.message
    if expired.status_code in (200, 201):
        with pytest.raises(openai.AuthenticationError):
            gateway.client(expired.json()["key"]).models.list()
    with pytest.raises(openai.AuthenticationError):
        gateway.client(created["key"]).models.list()
    as_team = httpx.get(f"{gateway.url}/admin/teams", headers={"Authorization": f"Bearer {DEMO_KEY}"})
    assert as_team.status_code == 403  # a team key never reaches admin routes


def test_no_plaintext_key_in_logs_or_store(gateway: Gateway) -> None:
    with gateway.admin() as admin:
        team_id = "secret-" + uuid.uuid4().hex[:8]
        admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id})
        secret = admin.post("/admin/keys", json={"team_id": team_id}).json()["key"]
    gateway.client(secret).chat.completions.create(model="claude-3-haiku", messages=user("EMULATOR:reply=ok"))
    with pytest.raises(openai.AuthenticationError):
        gateway.client(secret + "x").models.list()
    time.sleep(0.5)  # let the usage flush land
    db = gateway.env["LLM_GATEWAY_SQLITE_PATH"]
    stored = b"".join(Path(p).read_bytes() for p in (db, db + "-wal") if Path(p).exists())
    for value in (secret, DEMO_KEY):
        assert value.encode() not in stored
        assert value not in gateway.logs()


def test_keepalive_comments_during_long_pauses(start_gateway: GatewayFactory) -> None:
    """PITFALLS #29: a long upstream pause (thinking) sends SSE comments, which the SDK ignores."""
    gateway = start_gateway(LLM_GATEWAY_STREAM_KEEPALIVE_S="0.1")
    body = {"model": "claude-3-haiku", "stream": True,
            "messages": user("EMULATOR:chunk_delay_ms=350\nEMULATOR:reply=slow answer")}
    raw = httpx.post(f"{gateway.base_url}/chat/completions", json=body,
                     headers={"Authorization": f"Bearer {DEMO_KEY}"}, timeout=30).text
    assert ": keep-alive" in raw and raw.rstrip().endswith("data: [DONE]")
    chunks = list(gateway.client().chat.completions.create(
        model="claude-3-haiku", messages=user("EMULATOR:chunk_delay_ms=350\nEMULATOR:reply=slow answer"), stream=True
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "slow answer"
