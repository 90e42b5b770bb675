"""The OpenAI emulator driven by the unmodified ``openai`` SDK over real HTTP (OpenAI, Azure and Azure v1 forms)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from openai_emulator.process import emulator_process

KEY = "sk-emulator-it"
DEPLOYMENT, DEPLOYED_MODEL = "prod-4o", "gpt-4o-2024-08-06"
API_VERSION = "2024-10-21"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with emulator_process(args=["--api-key", KEY, "--azure-deployment", f"{DEPLOYMENT}={DEPLOYED_MODEL}"]) as url:
        yield url


@pytest.fixture(autouse=True)
def reset(emulator_url: str) -> None:
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()


@pytest.fixture
def client(emulator_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{emulator_url}/v1", api_key=KEY, max_retries=0)


@pytest.fixture
def azure(emulator_url: str) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=emulator_url, api_key=KEY, api_version=API_VERSION, max_retries=0)


def user(text: str) -> Any:
    return [{"role": "user", "content": text}]


def inspect(url: str, what: str) -> Any:
    return httpx.get(f"{url}/_emulator/{what}").json()


def test_chat(client: openai.OpenAI, emulator_url: str) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=user("Hello there"))
    assert completion.choices[0].message.content == "Echo: Hello there"
    assert completion.usage is not None and completion.usage.total_tokens == 3 + 5
    headers = inspect(emulator_url, "last_request")["headers"]
    assert headers["authorization"] == "Bearer" and headers["user-agent"].startswith("OpenAI/Python")


def test_stream_with_include_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="gpt-4o", messages=user("EMULATOR:words=4"), stream=True, stream_options={"include_usage": True},
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "word1 word2 word3 word4"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    plain = list(client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True))
    assert all(c.usage is None for c in plain)


def test_tool_call_round_trip(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="gpt-4o", messages=user("Weather in Paris?"), tools=[WEATHER])
    call = (first.choices[0].message.tool_calls or [])[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.type == "function" and call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris"}'
    history: Any = [*user("Weather in Paris?"), first.choices[0].message.model_dump(exclude_none=True),
                    {"role": "tool", "tool_call_id": call.id, "content": "Sunny"}]
    second = client.chat.completions.create(model="gpt-4o", messages=history, tools=[WEATHER])
    assert second.choices[0].message.content == "Result: Sunny"


def test_streamed_tool_call(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="gpt-4o", messages=user("weather?"), tools=[WEATHER]) as stream:
        final = stream.get_final_completion()
    call = (final.choices[0].message.tool_calls or [])[0]
    assert call.function.arguments == '{"city":"Paris"}' and final.choices[0].finish_reason == "tool_calls"


def test_embeddings_float_and_base64(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float")
    assert [len(d.embedding) for d in floats.data] == [1536, 1536]
    encoded = client.embeddings.create(model="text-embedding-3-small", input="alpha", encoding_format="base64")
    raw = base64.b64decode(str(encoded.data[0].embedding))
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == floats.data[0].embedding
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    default = client.embeddings.create(model="text-embedding-3-small", input="beta", dimensions=64)
    assert len(default.data[0].embedding) == 64 and default.usage.prompt_tokens == 1


def test_azure_chat_stream_and_embeddings(azure: openai.AzureOpenAI, emulator_url: str) -> None:
    completion = azure.chat.completions.create(model=DEPLOYMENT, messages=user("Hello Azure"))
    assert completion.model == DEPLOYED_MODEL and completion.choices[0].message.content == "Echo: Hello Azure"
    last = inspect(emulator_url, "last_request")
    assert last["path"] == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert last["query"] == f"api-version={API_VERSION}" and last["headers"]["api-key"] is True
    chunks = list(azure.chat.completions.create(model=DEPLOYMENT, messages=user("Hi"), stream=True))
    assert chunks[0].choices == []   # Azure's prompt-filter chunk
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: Hi"
    vectors = azure.embeddings.create(model="emb-small", input=["a", "b"], dimensions=32)
    assert [len(d.embedding) for d in vectors.data] == [32, 32]
    assert inspect(emulator_url, "last_request")["path"] == "/openai/deployments/emb-small/embeddings"


def test_azure_entra_token_and_v1_form(emulator_url: str) -> None:
    entra = openai.AzureOpenAI(azure_endpoint=emulator_url, azure_ad_token=KEY, api_version=API_VERSION,
                               max_retries=0)
    assert entra.chat.completions.create(model=DEPLOYMENT, messages=user("x")).model == DEPLOYED_MODEL
    assert inspect(emulator_url, "last_request")["headers"]["authorization"] == "Bearer"
    v1 = openai.OpenAI(base_url=f"{emulator_url}/openai/v1", api_key=KEY, max_retries=0)
    assert v1.chat.completions.create(model="gpt-4.1", messages=user("x")).model == "gpt-4.1"
    assert inspect(emulator_url, "last_request")["api"] == "azure_v1"


def test_auth_failures(emulator_url: str) -> None:
    wrong = openai.OpenAI(base_url=f"{emulator_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.chat.completions.create(model="gpt-4o", messages=user("x"))
    assert caught.value.code == "invalid_api_key"
    wrong_azure = openai.AzureOpenAI(azure_endpoint=emulator_url, api_key="wrong", api_version=API_VERSION,
                                     max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong_azure.embeddings.create(model=DEPLOYMENT, input="x")
    assert inspect(emulator_url, "calls")["auth_failures"] == 2


def test_queued_429s_then_success(client: openai.OpenAI, emulator_url: str) -> None:
    fault = {"status": 429, "count": 2, "retry_after": 1}
    httpx.post(f"{emulator_url}/_emulator/faults", json=fault).raise_for_status()
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=user("hi"))
        assert caught.value.response.headers["retry-after"] == "1"
    assert client.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content == "Echo: hi"
    assert inspect(emulator_url, "calls") | {"disconnects": 0} == {
        "chat": 3, "chat_stream": 0, "embeddings": 0, "total": 3, "faults_served": 2, "disconnects": 0,
        "auth_failures": 0,
    }


def test_sdk_retries_through_a_fault(emulator_url: str) -> None:
    # No Retry-After: the SDK backs off ~0.5 s by itself, then the second attempt succeeds.
    httpx.post(f"{emulator_url}/_emulator/faults", json={"status": 503, "count": 1}).raise_for_status()
    retrying = openai.OpenAI(base_url=f"{emulator_url}/v1", api_key=KEY, max_retries=1)
    assert retrying.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content
    assert inspect(emulator_url, "calls")["chat"] == 2


def test_fault_filters_one_model_while_another_answers(client: openai.OpenAI, emulator_url: str) -> None:
    httpx.post(f"{emulator_url}/_emulator/faults", json={"status": 429, "count": -1, "model": "gpt-4o"})
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=user("same prompt"))
    other = client.chat.completions.create(model="gpt-4o-mini", messages=user("same prompt"))
    assert other.choices[0].message.content == "Echo: same prompt"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=user("same prompt"))
    httpx.delete(f"{emulator_url}/_emulator/faults")
    assert client.chat.completions.create(model="gpt-4o", messages=user("same prompt")).choices


def test_disconnect_stall_and_mid_stream_drop(client: openai.OpenAI, emulator_url: str) -> None:
    httpx.post(f"{emulator_url}/_emulator/faults", json=[{"kind": "disconnect"}, {"kind": "stall", "delay_ms": 1500}])
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=user("hi"))
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).chat.completions.create(model="gpt-4o", messages=user("hi"))
    dropping = user("EMULATOR:words=5 EMULATOR:stream_error_after=3")
    stream = client.chat.completions.create(model="gpt-4o", messages=dropping, stream=True)
    received = []
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    with pytest.raises(openai.APIError, match="middle of the stream"):
        list(client.chat.completions.create(model="gpt-4o", messages=user("EMULATOR:stream_error_after=1:event"),
                                            stream=True))
    assert client.chat.completions.create(model="gpt-4o", messages=user("still alive")).choices


def test_error_directive_status_and_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=user("EMULATOR:error=503"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=user("EMULATOR:error=429 EMULATOR:retry_after=3"))
    assert caught.value.response.headers["retry-after"] == "3"
