"""The response cache end to end: opt-in by header or team, hits skip the upstream (the emulator's call
counts prove it), replay as streams, cost 0 with the saving reported, never across teams, shared by
replicas through Redis."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import Gateway, GatewayFactory

pytestmark = pytest.mark.e2e

ON = {"x-gateway-cache": "on"}


def team_key(gateway: Gateway) -> tuple[str, str]:
    team_id = "cache-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        assert admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id}).status_code == 201
        return team_id, str(admin.post("/admin/keys", json={"team_id": team_id}).json()["key"])


def converse_calls(emulator_url: str) -> int:
    calls = httpx.get(f"{emulator_url}/_emulator/calls").json()
    return int(calls["converse"] + calls["converse_stream"])


def ask(gateway: Gateway, key: str, text: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    client = gateway.client(key)
    kwargs.setdefault("temperature", 0)
    return client.chat.completions.with_raw_response.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": text}], extra_headers=headers or ON, **kwargs)


def test_a_hit_skips_the_upstream_costs_nothing_and_reports_the_saving(gateway: Gateway, emulator_url: str) -> None:
    _, key = team_key(gateway)
    text = "cache me " + uuid.uuid4().hex
    first = ask(gateway, key, text)
    assert first.headers["x-gateway-cache"] == "miss"
    cost = float(first.headers["x-gateway-cost-usd"])
    before = converse_calls(emulator_url)
    time.sleep(0.2)  # the fill runs after the response
    second = ask(gateway, key, text)
    assert converse_calls(emulator_url) == before  # answered without Bedrock
    assert second.headers["x-gateway-cache"] == "hit"
    assert float(second.headers["x-gateway-cost-usd"]) == 0
    assert float(second.headers["x-gateway-cache-saved-usd"]) == pytest.approx(cost)
    hit, miss = second.parse(), first.parse()
    assert hit.choices[0].message.content == miss.choices[0].message.content == f"Echo: {text}"
    assert hit.id != miss.id and hit.model == "claude-3-haiku"
    metadata = hit.model_extra["gateway_metadata"]  # type: ignore[index]
    assert metadata["cache"] == "hit" and metadata["cost_usd"] == 0 and metadata["saved_cost_usd"] > 0
    assert hit.usage is not None and hit.usage.total_tokens == miss.usage.total_tokens  # type: ignore[union-attr]
    rows = []
    for _ in range(50):
        with sqlite3.connect(gateway.env["LLM_GATEWAY_SQLITE_PATH"]) as db:
            rows = db.execute("SELECT status, cost_nanos FROM usage_records WHERE request_id = ?",
                              (second.headers["x-request-id"],)).fetchall()
        if rows:
            break
        time.sleep(0.1)
    assert rows == [("cache_hit", 0)]


def test_a_cached_answer_replays_as_a_stream_and_a_stream_fills_the_cache(gateway: Gateway, emulator_url: str) -> None:
    _, key = team_key(gateway)
    client = gateway.client(key)
    text = "stream me " + uuid.uuid4().hex
    ask(gateway, key, text)
    time.sleep(0.2)
    before = converse_calls(emulator_url)
    chunks = list(client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": text}], temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_headers=ON))
    assert converse_calls(emulator_url) == before
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: {text}"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-2].model_extra["gateway_metadata"]["cache"] == "hit"  # type: ignore[index]
    other = "streamed first " + uuid.uuid4().hex
    list(client.chat.completions.create(model="claude-3-haiku", messages=[{"role": "user", "content": other}],
                                        temperature=0, stream=True, extra_headers=ON))
    time.sleep(0.2)
    before = converse_calls(emulator_url)
    assert ask(gateway, key, other).headers["x-gateway-cache"] == "hit"
    assert converse_calls(emulator_url) == before


def test_never_across_teams(gateway: Gateway, emulator_url: str) -> None:
    (_, one), (_, two) = team_key(gateway), team_key(gateway)
    text = "mine " + uuid.uuid4().hex
    ask(gateway, one, text)
    time.sleep(0.2)
    assert ask(gateway, two, text).headers["x-gateway-cache"] == "miss"


def test_sampled_requests_bypass_unless_asked(gateway: Gateway, emulator_url: str) -> None:
    _, key = team_key(gateway)
    text = "sampled " + uuid.uuid4().hex
    for _ in range(2):
        assert "x-gateway-cache" not in ask(gateway, key, text, temperature=0.7).headers
    time.sleep(0.2)
    allow = {**ON, "x-gateway-cache-allow-sampled": "true"}
    assert ask(gateway, key, text, temperature=0.7, headers=allow).headers["x-gateway-cache"] == "miss"
    time.sleep(0.2)
    assert ask(gateway, key, text, temperature=0.7, headers=allow).headers["x-gateway-cache"] == "hit"
    # Without the header (and no team opt-in) the cache is not used at all.
    assert "x-gateway-cache" not in gateway.client(key).chat.completions.with_raw_response.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": text}], temperature=0).headers


def test_a_bad_cache_header_is_a_400_before_any_upstream_call(gateway: Gateway, emulator_url: str) -> None:
    _, key = team_key(gateway)
    before = converse_calls(emulator_url)
    with pytest.raises(openai.BadRequestError) as caught:
        ask(gateway, key, "x", headers={"x-gateway-cache": "sometimes"})
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "x-gateway-cache"
    assert converse_calls(emulator_url) == before


def test_replicas_share_the_cache_through_redis_and_a_team_can_opt_in(
        start_gateway: GatewayFactory, redis_url: str, emulator_url: str, tmp_path: Path) -> None:
    team_id = "cache-team-" + uuid.uuid4().hex[:8]
    env = {"REDIS_URL": redis_url, "LLM_GATEWAY_CACHE_TEAMS": team_id,
           "LLM_GATEWAY_SQLITE_PATH": str(tmp_path / "shared.db")}  # one key store, as replicas share one
    first, second = start_gateway(**env), start_gateway(**env)
    with first.admin() as admin:
        assert admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id}).status_code == 201
        key = str(admin.post("/admin/keys", json={"team_id": team_id}).json()["key"])
    text = "replicated " + uuid.uuid4().hex
    no_header: dict[str, str] = {"x-gateway-cache-allow-sampled": "false"}
    assert ask(first, key, text, headers=no_header).headers["x-gateway-cache"] == "miss"
    time.sleep(0.3)
    before = converse_calls(emulator_url)
    assert ask(second, key, text, headers=no_header).headers["x-gateway-cache"] == "hit"
    assert converse_calls(emulator_url) == before
    refreshed = ask(second, key, text, headers={"x-gateway-cache": "refresh"})
    assert refreshed.headers["x-gateway-cache"] == "miss" and converse_calls(emulator_url) == before + 1
