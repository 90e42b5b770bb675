"""Seeded fuzzing of chat, admin and usage endpoints: whatever a client sends, never a 500, always
OpenAI's error envelope.

Bounded (a fixed number of requests, one seed per run of the suite) so it stays a functional test.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ADMIN_KEY, DEMO_KEY, Gateway
from tests.e2e.test_openai_sdk import WEATHER_TOOL
from tests.fuzzing import mutate

pytestmark = pytest.mark.e2e

PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

BASE: dict[str, Any] = {
    "model": "claude-3-haiku",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "EMULATOR:reply=ok"},
                                     {"type": "image_url", "image_url": {"url": PNG_1PX}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"x\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "EMULATOR:reply=done"},
    ],
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
    "max_tokens": 50,
    "temperature": 0.5,
    "stop": ["\n\n"],
    "response_format": {"type": "text"},
    "stream": False,
}

RAW_BODIES: list[tuple[bytes, str]] = [
    (b"", "application/json"), (b"{", "application/json"), (b"[]", "application/json"),
    (b'"x"', "application/json"), (b"null", "application/json"), (b"\xff\xfe\x00", "application/json"),
    (b'{"model": "claude-3-haiku", "messages": []}', "application/json"),
    (b'{"model": 1e999, "messages": 1}', "application/json"),
    (b'{"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e999}',
     "application/json"),
    (b'{"a": ' * 2000 + b"1" + b"}" * 2000, "application/json"),
]


def check(response: httpx.Response, sent: object) -> None:
    assert response.status_code != 500 and response.status_code < 600, (response.status_code, sent, response.text)
    assert "x-request-id" in response.headers
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) >= {"message", "type", "param", "code"}, (sent, error)
        assert isinstance(error["message"], str) and error["message"], (sent, error)
        assert "Traceback" not in error["message"]


async def run_fuzz(gateway: Gateway, bodies: list[dict[str, Any]]) -> list[int]:
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=30, limits=limits) as http:
        async def one(body: dict[str, Any]) -> int:
            if body.get("stream") is True:  # a valid stream answers with SSE: read it through
                async with http.stream("POST", "/v1/chat/completions", json=body) as response:
                    await response.aread()
            else:
                response = await http.post("/v1/chat/completions", json=body)
            check(response, body)
            return response.status_code

        return await asyncio.gather(*(one(body) for body in bodies))


def test_mutated_bodies_never_500(gateway: Gateway) -> None:
    rng = random.Random(20261127)
    bodies = [mutate(rng, BASE) for _ in range(400)]
    statuses = asyncio.run(run_fuzz(gateway, bodies))
    assert statuses.count(200) > 20 and sum(400 <= s < 500 for s in statuses) > 100  # both kinds exercised
    health = httpx.get(f"{gateway.url}/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"


@pytest.mark.parametrize(("raw", "content_type"), RAW_BODIES)
def test_malformed_payloads_are_clear_errors(gateway: Gateway, raw: bytes, content_type: str) -> None:
    response = httpx.post(f"{gateway.url}/v1/chat/completions", content=raw,
                          headers={"Authorization": f"Bearer {DEMO_KEY}", "content-type": content_type})
    check(response, raw[:80])
    assert 400 <= response.status_code < 500


def test_json_without_a_json_content_type_is_accepted(gateway: Gateway) -> None:
    # `curl -d '{...}'` sends application/x-www-form-urlencoded unless told otherwise: be lenient.
    raw = b'{"model": "claude-3-haiku", "messages": [{"role": "user", "content": "EMULATOR:reply=ok"}]}'
    for content_type in ("application/x-www-form-urlencoded", "text/plain"):
        response = httpx.post(f"{gateway.url}/v1/chat/completions", content=raw,
                              headers={"Authorization": f"Bearer {DEMO_KEY}", "content-type": content_type})
        assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "ok"


TEAM_BASE: dict[str, Any] = {
    "team_id": "fz", "team_name": "Fuzz", "cost_center": "cc-1", "monthly_budget_usd": "10",
    "limits": {"rpm": 10, "tpm": 1000, "max_concurrency": 2}, "allowed_models": ["claude-3-haiku"],
    "tags": {"env": "test"},
}
KEY_BASE: dict[str, Any] = {
    "team_id": "fz", "name": "k", "expires_at": "2030-01-31T00:00:00Z", "monthly_budget_usd": "1",
    "limits": {"rpm": 5}, "allowed_models": ["claude-3-haiku"],
}
QUERY_VALUES = ["", "0", "-1", "1", "7", "365", "366", "1e3", "NaN", "abc", "2026-11-01", "2026-13-01",
                "9999-12-31", "0001-01-01", "team", "cost_center", "model", "day", "key", "csv", "xml", "%00"]


async def run_admin_fuzz(gateway: Gateway, rng: random.Random) -> list[tuple[str, int]]:
    outcomes: list[tuple[str, int]] = []
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=30) as http:
        created = await http.post("/admin/teams", json={**TEAM_BASE, "team_id": "fz-base"})
        key_id = (await http.post("/admin/keys", json={"team_id": "fz-base"})).json()["key_id"]
        for i in range(150):
            team = mutate(rng, {**TEAM_BASE, "team_id": f"fz-{i}"})
            key = mutate(rng, {**KEY_BASE, "team_id": "fz-base"})
            calls = [
                ("POST", "/admin/teams", team), ("PATCH", "/admin/teams/fz-base", mutate(rng, TEAM_BASE)),
                ("POST", "/admin/keys", key), ("PATCH", f"/admin/keys/{key_id}", mutate(rng, KEY_BASE)),
                ("POST", f"/admin/keys/{key_id}/rotate", mutate(rng, {"grace_seconds": 5})),
            ]
            for method, url, body in calls:
                response = await http.request(method, url, json=body)
                check(response, (url, body))
                outcomes.append((url, response.status_code))
            params = {name: rng.choice(QUERY_VALUES) for name in ("from", "to", "group_by", "format", "team_id")
                      if rng.random() < 0.6}
            response = await http.get("/admin/usage", params=params)
            check(response, params)
            response = await http.get("/v1/usage", params={"days": rng.choice(QUERY_VALUES)},
                                      headers={"Authorization": f"Bearer {DEMO_KEY}"})
            check(response, "usage")
    assert created.status_code == 201
    return outcomes


def test_admin_and_usage_inputs_never_500(gateway: Gateway) -> None:
    outcomes = asyncio.run(run_admin_fuzz(gateway, random.Random(7)))
    statuses = [status for _, status in outcomes]
    assert any(s in (200, 201) for s in statuses) and sum(400 <= s < 500 for s in statuses) > 100
