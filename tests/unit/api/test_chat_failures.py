"""The chat handler's unhappy paths with fakes at the Bedrock seam: every call is settled and recorded once.

Bedrock returning something our translator cannot read must become a 500 (or an in-stream error event),
and the call must still release its limiter slot and leave a usage record, because Bedrock billed it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from proxy.app import create_app
from proxy.auth.principal import Limits, Principal
from proxy.catalog.catalog import ModelCatalog
from proxy.limits.redis import LocalLimiter
from proxy.observability.metrics import Metrics
from proxy.providers.bedrock.provider import BedrockProvider
from proxy.services import Services
from proxy.settings import Settings

PRINCIPAL = Principal(team_id="t1", team_name="T1", key_id="k1", team_limits=Limits(rpm=100, max_concurrency=1))
BODY = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}]}


class FakeAuth:
    async def authenticate(self, headers: Any, client: str | None = None) -> Principal:
        return PRINCIPAL


class FakeRecorder:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def record(self, rec: Any) -> None:
        self.records.append(rec)


class FakeStream:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        for event in self.events:
            yield event

    async def aclose(self) -> None:
        self.closed = True


class FakeBedrock:
    def __init__(self, response: dict[str, Any], events: list[dict[str, Any]]) -> None:
        self.response, self.events = response, events
        self.streams: list[FakeStream] = []

    async def converse(self, model_id: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        return self.response

    async def converse_stream(self, model_id: str, body: dict[str, Any], *, request_id: str) -> FakeStream:
        self.streams.append(FakeStream(self.events))
        return self.streams[-1]


def client_for(bedrock: FakeBedrock) -> tuple[TestClient, FakeRecorder]:
    recorder = FakeRecorder()
    services = Services(
        settings=Settings.from_env({}), catalog=ModelCatalog.load(),
        providers={"bedrock": BedrockProvider(bedrock)},  # type: ignore[arg-type]
        keystore=None, auth=FakeAuth(), limiter=LocalLimiter(), usage=recorder,  # type: ignore[arg-type]
        usage_store=None, metrics=Metrics(),  # type: ignore[arg-type]
    )
    return TestClient(create_app(services=services), raise_server_exceptions=False), recorder


USAGE = {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}


@pytest.mark.parametrize("attempt", range(2))  # the second call proves the concurrency slot came back
def test_unreadable_bedrock_response_is_500_and_still_recorded(attempt: int) -> None:
    client, recorder = client_for(FakeBedrock({"output": "garbage", "usage": USAGE}, []))
    with client:
        for _ in range(2):
            response = client.post("/v1/chat/completions", json=BODY)
            assert response.status_code == 500
            assert response.json()["error"]["code"] == "internal_error"
            assert "garbage" not in response.text
    assert [r.status for r in recorder.records] == ["error", "error"]
    assert recorder.records[0].prompt_tokens == 3 and recorder.records[0].completion_tokens == 4


def test_a_stream_cut_short_is_an_upstream_error_event() -> None:
    events = [{"messageStart": {"role": "assistant"}}, {"contentBlockDelta": "garbage"}]
    client, recorder = client_for(FakeBedrock({}, events))
    with client:
        response = client.post("/v1/chat/completions", json={**BODY, "stream": True})
    assert '"upstream_incomplete"' in response.text and response.text.endswith("data: [DONE]\n\n")
    assert [r.status for r in recorder.records] == ["upstream_error"]
    assert recorder.records[0].estimated  # Bedrock never reported usage


def test_a_relay_bug_ends_with_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_feed(self: Any, event: dict[str, Any]) -> list[dict[str, Any]]:
        if "contentBlockDelta" in event:
            raise RuntimeError("translator bug")
        return []

    monkeypatch.setattr("proxy.providers.bedrock.provider.ConverseStreamTranslator.feed", broken_feed)
    events = [{"messageStart": {"role": "assistant"}}, {"contentBlockDelta": {"delta": {"text": "x"}}}]
    bedrock = FakeBedrock({}, events)
    client, recorder = client_for(bedrock)
    with client:
        for _ in range(2):
            response = client.post("/v1/chat/completions", json={**BODY, "stream": True})
            assert response.status_code == 200
            frames = [line for line in response.text.split("\n\n") if line]
            assert frames[-1] == "data: [DONE]" and '"error"' in frames[-2]
    assert [r.status for r in recorder.records] == ["error", "error"]
    assert all(stream.closed for stream in bedrock.streams)


def test_malformed_usage_numbers_never_lose_the_record() -> None:
    odd_usage = {"inputTokens": None, "outputTokens": "7", "totalTokens": -1, "cacheReadInputTokens": 2}
    response = {"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
                "stopReason": "end_turn", "usage": odd_usage}
    events = [{"messageStart": {"role": "assistant"}},
              {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "ok"}}},
              {"messageStop": {"stopReason": "end_turn"}}, {"metadata": {"usage": odd_usage}}]
    client, recorder = client_for(FakeBedrock(response, events))
    with client:
        plain = client.post("/v1/chat/completions", json=BODY)
        streamed = client.post("/v1/chat/completions", json={**BODY, "stream": True})
    assert plain.status_code == 200 and plain.json()["usage"]["prompt_tokens"] == 2
    assert streamed.status_code == 200 and streamed.text.endswith("data: [DONE]\n\n")
    assert [(r.status, r.prompt_tokens, r.completion_tokens) for r in recorder.records] == [("ok", 2, 0)] * 2
