"""The OpenAI emulator over HTTP, in process (httpx's ASGITransport): routes, auth, Azure, SSE, faults, inspection."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from openai_emulator.app import create_app

Client = httpx.AsyncClient
MakeClient = Callable[..., Awaitable[Client]]
KEY = "sk-emulator-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
AZURE_CHAT = "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    async def make(**options: Any) -> Client:
        transport = httpx.ASGITransport(app=create_app(**options))
        client = httpx.AsyncClient(transport=transport, base_url="http://emulator")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client(api_keys=[KEY], azure_deployments={"prod-4o": "gpt-4o-2024-08-06"})


def chat(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


def sse_events(text: str) -> list[Any]:
    """The data of each SSE event; ``[DONE]`` stays a string."""
    events = [block.removeprefix("data: ") for block in text.split("\n\n") if block]
    return [event if event == "[DONE]" else orjson.loads(event) for event in events]


async def test_chat_completion(client: Client) -> None:
    response = await client.post("/v1/chat/completions", headers=AUTH, json=chat())
    assert response.status_code == 200 and response.headers["x-request-id"]
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "gpt-4o"
    assert body["choices"][0]["message"]["content"] == "Echo: Hello"
    again = await client.post("/v1/chat/completions", headers=AUTH, json=chat())
    assert again.json() == body   # deterministic, id included


async def test_stream_with_and_without_usage(client: Client) -> None:
    body = chat("EMULATOR:words=3", stream=True, stream_options={"include_usage": True})
    response = await client.post("/v1/chat/completions", headers=AUTH, json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]" and events[-2]["choices"] == []
    assert events[-2]["usage"]["completion_tokens"] == 5
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-2]) == "word1 word2 word3"
    plain = sse_events((await client.post("/v1/chat/completions", headers=AUTH, json=chat(stream=True))).text)
    assert plain[-1] == "[DONE]" and all("usage" not in e for e in plain[:-1])


async def test_stream_faults_in_the_text(client: Client) -> None:
    event = await client.post("/v1/chat/completions", headers=AUTH,
                              json=chat("EMULATOR:words=4 EMULATOR:stream_error_after=2:event", stream=True))
    events = sse_events(event.text)
    assert len(events) == 3 and events[-1]["error"]["type"] == "server_error"
    truncated = await client.post("/v1/chat/completions", headers=AUTH,
                                  json=chat("EMULATOR:words=4 EMULATOR:truncate_after=3", stream=True))
    assert len(sse_events(truncated.text)) == 3 and "[DONE]" not in truncated.text
    # Outside uvicorn there is no socket to close: the drop surfaces as the app's exception.
    with pytest.raises(ConnectionAbortedError):
        await client.post("/v1/chat/completions", headers=AUTH,
                          json=chat("EMULATOR:stream_error_after=1", stream=True))


@pytest.mark.parametrize(
    ("text", "status", "retry_after"),
    [("EMULATOR:error=429", 429, "1"), ("EMULATOR:error=429 EMULATOR:retry_after=5", 429, "5"),
     ("EMULATOR:error=503", 503, None), ("EMULATOR:error=ThrottlingException", 429, "1")],
)
async def test_error_directive(client: Client, text: str, status: int, retry_after: str | None) -> None:
    response = await client.post("/v1/chat/completions", headers=AUTH, json=chat(text))
    assert response.status_code == status and response.headers.get("retry-after") == retry_after
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_delay_directive(client: Client) -> None:
    started = time.monotonic()
    await client.post("/v1/chat/completions", headers=AUTH, json=chat("EMULATOR:delay_ms=60"))
    assert time.monotonic() - started >= 0.06


async def test_openai_auth(client: Client) -> None:
    missing = await client.post("/v1/chat/completions", json=chat())
    wrong = await client.post("/v1/chat/completions", headers={"Authorization": "Bearer nope"}, json=chat())
    api_key_header = await client.post("/v1/chat/completions", headers={"api-key": KEY}, json=chat())
    for response in (missing, wrong, api_key_header):
        assert response.status_code == 401 and response.json()["error"]["type"] == "invalid_request_error"
    assert wrong.json()["error"]["code"] == "invalid_api_key" and "nope" not in wrong.text
    assert (await client.get("/v1/models")).status_code == 401
    calls = (await client.get("/_emulator/calls")).json()
    assert calls["total"] == 0 and calls["auth_failures"] == 4


async def test_no_keys_means_no_auth(make_client: MakeClient) -> None:
    open_client = await make_client()
    assert (await open_client.post("/v1/chat/completions", json=chat())).status_code == 200


async def test_azure_auth_takes_api_key_or_bearer(client: Client) -> None:
    for headers in ({"api-key": KEY}, AUTH, {"api-key": "wrong", **AUTH}):
        assert (await client.post(AZURE_CHAT, headers=headers, json=chat())).status_code == 200
    denied = await client.post(AZURE_CHAT, headers={"api-key": "wrong"}, json=chat())
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "401"
    assert set(denied.json()["error"]) == {"code", "message"}


async def test_azure_deployment_route(client: Client) -> None:
    response = await client.post(AZURE_CHAT, headers={"api-key": KEY}, json={"messages": chat()["messages"]})
    body = response.json()
    assert body["model"] == "gpt-4o-2024-08-06" and response.headers["apim-request-id"]
    assert body["prompt_filter_results"][0]["prompt_index"] == 0
    assert body["choices"][0]["content_filter_results"]["violence"]["filtered"] is False
    echo = await client.post("/openai/deployments/other/chat/completions?api-version=2025-01-01-preview",
                             headers={"api-key": KEY}, json=chat())
    assert echo.json()["model"] == "other"
    stream = await client.post(AZURE_CHAT, headers={"api-key": KEY}, json=chat(stream=True))
    assert sse_events(stream.text)[0]["choices"] == []


@pytest.mark.parametrize(("query", "code"), [("", "MissingApiVersionParameter"),
                                             ("?api-version=latest", "InvalidApiVersionParameter")])
async def test_azure_api_version_is_required(client: Client, query: str, code: str) -> None:
    response = await client.post(f"/openai/deployments/prod-4o/chat/completions{query}", headers={"api-key": KEY},
                                 json=chat())
    assert response.status_code == 400 and response.json() == {"error": {"code": code, "message": response.json()
                                                                         ["error"]["message"]}}


async def test_azure_v1_route_needs_model_but_no_version(client: Client) -> None:
    ok = await client.post("/openai/v1/chat/completions", headers={"api-key": KEY}, json=chat())
    assert ok.status_code == 200 and ok.json()["model"] == "gpt-4o"
    no_model = await client.post("/openai/v1/chat/completions", headers={"api-key": KEY},
                                 json={"messages": chat()["messages"]})
    assert no_model.status_code == 400 and set(no_model.json()["error"]) == {"code", "message"}


async def test_azure_only_hides_v1(make_client: MakeClient) -> None:
    azure = await make_client(azure_only=True)
    assert (await azure.post("/v1/chat/completions", json=chat())).status_code == 404
    assert (await azure.post(AZURE_CHAT, json=chat())).status_code == 200


@pytest.mark.parametrize(
    ("content", "param"),
    [(b"{not json", None), (b"[1]", None), (orjson.dumps({"messages": []}), "model"),
     (orjson.dumps({"model": "m"}), "messages"), (orjson.dumps({"model": "m", "messages": []}), "messages"),
     (orjson.dumps({"model": "m", "messages": ["hi"]}), "messages[0]")],
)
async def test_validation(client: Client, content: bytes, param: str | None) -> None:
    response = await client.post("/v1/chat/completions", headers=AUTH, content=content)
    assert response.status_code == 400 and response.json()["error"]["param"] == param


async def test_embeddings_routes(client: Client) -> None:
    openai_style = await client.post("/v1/embeddings", headers=AUTH,
                                     json={"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8})
    azure = await client.post("/openai/deployments/emb/embeddings?api-version=2024-10-21", headers={"api-key": KEY},
                              json={"input": ["a", "b"], "dimensions": 8})
    assert [d["embedding"] for d in openai_style.json()["data"]] == [d["embedding"] for d in azure.json()["data"]]
    assert azure.json()["model"] == "emb"
    throttled = await client.post("/v1/embeddings", headers=AUTH, json={"model": "m", "input": "EMULATOR:error=429"})
    assert throttled.status_code == 429


async def test_models(client: Client) -> None:
    listed = (await client.get("/v1/models", headers=AUTH)).json()
    ids = [model["id"] for model in listed["data"]]
    assert "gpt-4o" in ids and "gpt-4o-2024-08-06" in ids and len(ids) == len(set(ids))
    assert (await client.get("/v1/models/anything", headers=AUTH)).json()["id"] == "anything"
    missing = await client.post("/v1/nothing", headers=AUTH, json={})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Invalid URL (POST /v1/nothing)"


async def test_last_request_redacts_credentials_and_lists_unknown_fields(client: Client) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}}
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, image]}],
            "x_custom": 1, "temperature": 0.2}
    await client.post("/v1/chat/completions", headers={**AUTH, "OpenAI-Organization": "org-1"}, json=body)
    last = (await client.get("/_emulator/last_request")).json()
    assert last["headers"]["authorization"] == "Bearer" and last["headers"]["api-key"] is False
    assert last["headers"]["openai-organization"] == "org-1" and KEY not in orjson.dumps(last).decode()
    assert last["unknown_fields"] == ["x_custom"] and last["images"] == 1 and last["body"] == body
    await client.post(AZURE_CHAT, headers={"api-key": KEY}, json=chat())
    azure = (await client.get("/_emulator/last_request")).json()
    assert azure["headers"]["api-key"] is True and azure["headers"]["authorization"] is None
    assert azure["api"] == "azure" and azure["deployment"] == "prod-4o" and azure["query"] == "api-version=2024-10-21"


async def test_requests_keeps_the_last_fifty_and_reset_forgets(client: Client) -> None:
    for index in range(52):
        await client.post("/v1/chat/completions", headers=AUTH, json=chat(f"n{index}"))
    kept = (await client.get("/_emulator/requests")).json()
    assert len(kept) == 50 and kept[0]["body"]["messages"][0]["content"] == "n2"
    await client.post("/_emulator/faults", json={"status": 500})
    await client.post("/_emulator/reset")
    assert (await client.get("/_emulator/calls")).json()["total"] == 0
    assert (await client.get("/_emulator/requests")).json() == []
    assert (await client.get("/_emulator/faults")).json() == {"faults": []}


async def test_queued_faults_fail_one_model_then_clear(client: Client) -> None:
    queued = await client.post("/_emulator/faults", json={"status": 429, "count": 2, "model": "gpt-4o"})
    assert queued.json()["faults"][0]["retry_after"] == 1
    other = await client.post("/v1/chat/completions", headers=AUTH, json={**chat(), "model": "gpt-4.1"})
    assert other.status_code == 200
    for _ in range(2):
        failed = await client.post("/v1/chat/completions", headers=AUTH, json=chat())
        assert failed.status_code == 429 and failed.headers["retry-after"] == "1"
        assert failed.json()["error"]["code"] == "rate_limit_exceeded"
    assert (await client.post("/v1/chat/completions", headers=AUTH, json=chat())).status_code == 200
    calls = (await client.get("/_emulator/calls")).json()
    assert calls["chat"] == 4 and calls["faults_served"] == 2
    await client.post("/_emulator/faults", json={"status": 503, "count": -1, "operation": "embeddings"})
    assert (await client.post("/v1/chat/completions", headers=AUTH, json=chat())).status_code == 200
    assert (await client.delete("/_emulator/faults")).json() == {"faults": []}


async def test_fault_shapes_per_route_and_kind(client: Client) -> None:
    await client.post("/_emulator/faults", json=[
        {"status": 429, "code": "insufficient_quota", "type": "insufficient_quota", "message": "quota",
         "retry_after": None},
        {"status": 500, "model": "prod-4o"},
        {"kind": "stall", "delay_ms": 60},
        {"kind": "disconnect"},
    ])
    quota = await client.post("/v1/chat/completions", headers=AUTH, json=chat())
    assert quota.json()["error"] == {"message": "quota", "type": "insufficient_quota", "param": None,
                                     "code": "insufficient_quota"}
    assert "retry-after" not in quota.headers
    azure = await client.post(AZURE_CHAT, headers={"api-key": KEY}, json=chat())
    assert azure.status_code == 500 and azure.json()["error"]["code"] == "500"
    started = time.monotonic()
    assert (await client.post("/v1/chat/completions", headers=AUTH, json=chat())).status_code == 200
    assert time.monotonic() - started >= 0.06
    with pytest.raises(ConnectionAbortedError):
        await client.post("/v1/chat/completions", headers=AUTH, json=chat())


@pytest.mark.parametrize("content", [b"nope", b'{"status": 200}', b'{"count": -2}', b'{"kind": "boom"}'])
async def test_bad_faults_are_400(client: Client, content: bytes) -> None:
    response = await client.post("/_emulator/faults", content=content)
    assert response.status_code == 400 and response.json()["error"]["message"]
