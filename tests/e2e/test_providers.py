"""Providers end to end: a mixed catalog (Bedrock + OpenAI-compatible + Azure) through the real openai SDK.

The emulators' call counts and recorded requests prove what reached which upstream, in what order.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from bedrock_emulator.process import emulator_process as bedrock_emulator_process
from openai_emulator.process import emulator_process
from tests.e2e.conftest import ADMIN_KEY, Gateway, GatewayFactory

pytestmark = pytest.mark.e2e

LOCAL_KEY = "sk-local-upstream-" + "u" * 24
AZURE_KEY = "azure-upstream-" + "z" * 24
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def catalog(local: str, azure: str, second_bedrock: str) -> str:
    return f"""
[providers.bedrock-eu]
kind = "bedrock"
region = "eu-central-1"
endpoint_url = "{second_bedrock}"

[providers.slow]
kind = "openai_compatible"
base_url = "{local}/v1"
api_key_env = "LOCAL_LLM_KEY"
first_byte_timeout_s = 0.5

[models."haiku-two-regions"]
deployments = [ {{ provider = "bedrock", model = "{HAIKU}" }}, {{ provider = "bedrock-eu", model = "{HAIKU}" }} ]
pricing = {{ input = "0.00025", output = "0.00125" }}

[models."stalls-then-local"]
deployments = [ {{ provider = "slow", model = "stall-me" }}, {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.0001", output = "0.0002" }}

[models."only-slow"]
deployments = [ {{ provider = "slow", model = "stall-me" }} ]
pricing = {{ input = "0.0001", output = "0.0002" }}

[providers.local]
kind = "openai_compatible"
base_url = "{local}/v1"
api_key_env = "LOCAL_LLM_KEY"

[providers.azure]
kind = "azure"
base_url = "{azure}"
api_version = "2024-10-21"
api_key_env = "AZURE_KEY"

[providers.azure-v1]
kind = "azure"
path = "v1"
auth = "bearer"
base_url = "{azure}/openai/v1"
api_key_env = "AZURE_KEY"

[providers.broken]
kind = "openai_compatible"
base_url = "{local}/v1"
api_key_env = "WRONG_KEY"

[models."echo-mini"]
deployments = [ {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.0001", output = "0.0002" }}

[models."claude-3-haiku-ha"]
deployments = [ {{ provider = "bedrock", model = "{HAIKU}" }},
                {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.00025", output = "0.00125" }}

[models."gpt-4o-mini"]
deployments = [ {{ provider = "azure", deployment = "gw-mini", model = "gpt-4o-mini" }} ]
pricing = {{ input = "0.00015", output = "0.0006" }}

[models."gpt-4o-mini-v1"]
deployments = [ {{ provider = "azure-v1", model = "gw-mini" }} ]
pricing = {{ input = "0.00015", output = "0.0006" }}

[models."refused-then-local"]
deployments = [ {{ provider = "broken", model = "echo-mini" }}, {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.0001", output = "0.0002" }}

[models."local-embed"]
deployments = [ {{ provider = "local", model = "text-embedding-3-small" }} ]
pricing = {{ input = "0.00002", output = "0" }}
"""


@pytest.fixture(scope="module")
def local_url() -> Iterator[str]:
    with emulator_process(args=["--api-key", LOCAL_KEY]) as url:
        yield url


@pytest.fixture(scope="module")
def azure_url() -> Iterator[str]:
    with emulator_process(args=["--azure", "--api-key", AZURE_KEY, "--azure-deployment", "gw-mini=gpt-4o-mini"]) as url:
        yield url


@pytest.fixture(scope="module")
def second_bedrock() -> Iterator[str]:
    with bedrock_emulator_process() as url:
        yield url


@pytest.fixture(scope="module")
def mixed(start_gateway: GatewayFactory, local_url: str, azure_url: str, second_bedrock: str,
          tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(catalog(local_url, azure_url, second_bedrock), encoding="utf-8")
    return start_gateway(LLM_GATEWAY_MODEL_CATALOG=str(path), LOCAL_LLM_KEY=LOCAL_KEY, AZURE_KEY=AZURE_KEY,
                         WRONG_KEY="sk-not-the-key", LLM_GATEWAY_BREAKER_FAILURES="2",
                         LLM_GATEWAY_BREAKER_OPEN_S="1")


@pytest.fixture(autouse=True)
def fresh_upstreams(local_url: str, azure_url: str, emulator_url: str, second_bedrock: str) -> None:
    for url in (local_url, azure_url, emulator_url, second_bedrock):
        httpx.post(f"{url}/_emulator/reset").raise_for_status()


def calls(url: str) -> dict[str, int]:
    return httpx.get(f"{url}/_emulator/calls").json()


def last_request(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/_emulator/last_request").json()


def fault(url: str, **spec: Any) -> None:
    httpx.post(f"{url}/_emulator/faults", json=spec).raise_for_status()


def chat(gateway: Gateway, model: str, text: str = "hello there", **kwargs: Any) -> Any:
    return gateway.client().chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **kwargs)


# --- each provider kind ---------------------------------------------------------------------------------

def test_openai_compatible_upstream_is_metered_and_named(mixed: Gateway, local_url: str) -> None:
    raw = chat(mixed, "echo-mini", extra_body={"guardrailConfig": {"guardrailIdentifier": "g",
                                                                   "guardrailVersion": "1"}}, temperature=1.5)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: hello there"
    assert completion.model == "echo-mini"
    assert raw.headers["x-gateway-provider"] == "openai-compatible"
    assert raw.headers["x-gateway-deployment"] == "local/echo-mini"
    metadata = completion.model_extra["gateway_metadata"]  # type: ignore[index]
    assert metadata["provider"] == "openai-compatible" and metadata["cost_usd"] > 0
    sent = last_request(local_url)
    # Passed through: only the model rewritten, the gateway's own (Bedrock) field removed.
    assert sent["body"] == {"model": "echo-mini", "messages": [{"role": "user", "content": "hello there"}],
                            "temperature": 1.5}
    assert sent["headers"]["authorization"] == "Bearer"
    expected = (completion.usage.prompt_tokens * 0.0001 + completion.usage.completion_tokens * 0.0002) / 1000
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(expected)


def test_stream_asks_the_upstream_for_usage_and_tells_the_client_only_if_asked(mixed: Gateway,
                                                                               local_url: str) -> None:
    client = mixed.client()
    chunks = list(client.chat.completions.create(model="echo-mini", stream=True,
                                                 messages=[{"role": "user", "content": "one two three"}]))
    assert last_request(local_url)["body"]["stream_options"] == {"include_usage": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: one two three"
    assert all(c.choices for c in chunks)  # no usage chunk: the client did not ask for one
    finish = [c for c in chunks if c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].model_extra["gateway_metadata"]["cost_usd"] > 0  # type: ignore[index]
    asked = list(client.chat.completions.create(model="echo-mini", stream=True,
                                                messages=[{"role": "user", "content": "one two three"}],
                                                stream_options={"include_usage": True}))
    assert asked[-1].choices == [] and asked[-1].usage is not None and asked[-1].usage.completion_tokens > 0


def test_tools_and_response_format_pass_through(mixed: Gateway) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    completion = chat(mixed, "echo-mini", "weather please", tools=tools).parse()
    call = completion.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    assert completion.choices[0].finish_reason == "tool_calls"
    as_json = chat(mixed, "echo-mini", "hi", response_format={"type": "json_object"}).parse()
    assert json.loads(as_json.choices[0].message.content or "") == {"echo": "hi"}


def test_azure_deployment_path_api_version_and_api_key_header(mixed: Gateway, azure_url: str) -> None:
    raw = chat(mixed, "gpt-4o-mini")
    assert raw.parse().choices[0].message.content == "Echo: hello there"
    assert raw.headers["x-gateway-provider"] == "azure-openai"
    assert raw.headers["x-gateway-deployment"] == "azure/gw-mini"
    sent = last_request(azure_url)
    assert sent["path"] == "/openai/deployments/gw-mini/chat/completions"
    assert "api-version=2024-10-21" in sent["query"]
    assert sent["headers"]["api-key"] is True and sent["headers"].get("authorization") is None
    streamed = mixed.client().chat.completions.create(model="gpt-4o-mini", stream=True,
                                                      messages=[{"role": "user", "content": "a b"}])
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == "Echo: a b"  # Azure's leading chunk with no choices is relayed harmlessly


def test_azure_v1_path_with_an_entra_bearer_token(mixed: Gateway, azure_url: str) -> None:
    assert chat(mixed, "gpt-4o-mini-v1").parse().choices[0].message.content == "Echo: hello there"
    sent = last_request(azure_url)
    assert sent["path"] == "/openai/v1/chat/completions" and sent["body"]["model"] == "gw-mini"
    assert sent["headers"]["authorization"] == "Bearer"


def test_langchain_chat_openai_works_against_an_openai_compatible_model(mixed: Gateway) -> None:
    from tests.e2e.conftest import DEMO_KEY

    llm = ChatOpenAI(model="echo-mini", base_url=mixed.base_url, api_key=DEMO_KEY, max_retries=0)  # type: ignore[arg-type]
    assert llm.invoke("langchain hi").content == "Echo: langchain hi"
    assert "".join(str(part.content) for part in llm.stream("streamed hi")) == "Echo: streamed hi"


def test_the_upstreams_400_is_the_clients_400_and_never_falls_back(mixed: Gateway, local_url: str,
                                                                   emulator_url: str) -> None:
    fault(emulator_url, error="ValidationException", count=1, message="bad request")
    with pytest.raises(openai.BadRequestError):
        chat(mixed, "claude-3-haiku-ha")
    assert calls(emulator_url)["converse"] == 1 and calls(local_url)["total"] == 0


def test_embeddings_pass_through_to_an_openai_format_upstream(mixed: Gateway, local_url: str) -> None:
    raw = mixed.client().embeddings.with_raw_response.create(model="local-embed", input=["a", "b"], dimensions=64)
    result = raw.parse()
    assert len(result.data) == 2 and len(result.data[0].embedding) == 64
    assert last_request(local_url)["body"]["model"] == "text-embedding-3-small"
    assert raw.headers["x-gateway-deployment"] == "local/text-embedding-3-small"


# --- fallbacks and breakers -----------------------------------------------------------------------------

def test_throttled_bedrock_falls_back_to_the_next_provider(mixed: Gateway, local_url: str,
                                                           emulator_url: str) -> None:
    fault(emulator_url, error="ThrottlingException", count=1)
    raw = chat(mixed, "claude-3-haiku-ha")
    assert raw.parse().choices[0].message.content == "Echo: hello there"
    assert raw.headers["x-gateway-deployment"] == "local/echo-mini"
    assert raw.headers["x-gateway-provider"] == "openai-compatible"
    assert calls(emulator_url)["converse"] == 1 and calls(local_url)["chat"] == 1  # the order: Bedrock first
    again = chat(mixed, "claude-3-haiku-ha")  # the next call goes to Bedrock again (one failure < breaker's 2)
    assert again.headers["x-gateway-deployment"] == f"bedrock/{HAIKU}"


def test_a_stream_falls_back_before_its_first_byte_without_duplicated_output(mixed: Gateway, local_url: str,
                                                                             emulator_url: str) -> None:
    fault(emulator_url, error="ServiceUnavailableException", count=1, operation="converse_stream")
    stream = mixed.client().chat.completions.with_raw_response.create(
        model="claude-3-haiku-ha", stream=True, messages=[{"role": "user", "content": "x y z"}])
    assert stream.headers["x-gateway-deployment"] == "local/echo-mini"
    chunks = list(stream.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: x y z"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.role) == 1
    assert calls(emulator_url)["converse_stream"] == 1 and calls(local_url)["chat_stream"] == 1


def test_no_fallback_after_a_streams_first_byte(mixed: Gateway, local_url: str) -> None:
    stream = mixed.client().chat.completions.create(
        model="refused-then-local", stream=True,
        messages=[{"role": "user", "content": "a b c d e EMULATOR:stream_error_after=3:event"}])
    with pytest.raises(openai.APIError):
        list(stream)
    # The broken provider's key is refused (401) before any byte: the fallback served the stream, then
    # the upstream failed mid-stream; that failure ends the stream instead of replaying it elsewhere.
    assert calls(local_url)["chat_stream"] == 1


def test_a_refused_key_falls_back_and_never_reaches_the_client_or_the_log(mixed: Gateway, local_url: str) -> None:
    raw = chat(mixed, "refused-then-local")
    assert raw.headers["x-gateway-deployment"] == "local/echo-mini"
    assert calls(local_url)["auth_failures"] == 1 and calls(local_url)["chat"] == 1
    logs = mixed.logs()
    assert LOCAL_KEY not in logs and AZURE_KEY not in logs and "sk-not-the-key" not in logs


def test_a_bedrock_deployment_in_another_region_takes_over(mixed: Gateway, emulator_url: str,
                                                           second_bedrock: str) -> None:
    fault(emulator_url, error="ServiceUnavailableException", count=1)
    raw = chat(mixed, "haiku-two-regions")
    assert raw.parse().choices[0].message.content == "Echo: hello there"
    assert raw.headers["x-gateway-deployment"] == f"bedrock-eu/{HAIKU}"
    assert raw.headers["x-gateway-provider"] == "aws-bedrock"
    assert calls(emulator_url)["converse"] == 1 and calls(second_bedrock)["converse"] == 1


def test_a_first_byte_timeout_falls_back_and_alone_is_a_504(mixed: Gateway, local_url: str) -> None:
    fault(local_url, kind="stall", delay_ms=3000, model="stall-me", count=2)
    started = time.monotonic()
    raw = chat(mixed, "stalls-then-local")
    assert raw.headers["x-gateway-deployment"] == "local/echo-mini"
    assert time.monotonic() - started < 2.5  # the 0.5 s first-byte timeout, not the 3 s stall
    with pytest.raises(openai.APIStatusError) as caught:
        chat(mixed, "only-slow")
    assert caught.value.status_code == 504
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "upstream_timeout"


def test_circuit_breaker_opens_skips_the_deployment_and_recovers(mixed: Gateway, local_url: str,
                                                                 emulator_url: str) -> None:
    # Earlier tests left Bedrock with failures on this process's breaker: one success resets the count.
    assert chat(mixed, "claude-3-haiku-ha").headers["x-gateway-deployment"] == f"bedrock/{HAIKU}"
    fault(emulator_url, error="InternalServerException", count=2)
    for _ in range(2):
        assert chat(mixed, "claude-3-haiku-ha").headers["x-gateway-deployment"] == "local/echo-mini"
    metrics = httpx.get(f"{mixed.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
    assert f'llm_gateway_deployment_circuit_state{{deployment="bedrock/{HAIKU}",state="open"}} 2' in metrics
    before = calls(emulator_url)["converse"]
    assert chat(mixed, "claude-3-haiku-ha").headers["x-gateway-deployment"] == "local/echo-mini"
    assert calls(emulator_url)["converse"] == before  # open: Bedrock was not called at all
    time.sleep(1.2)  # LLM_GATEWAY_BREAKER_OPEN_S=1: the next call is the half-open probe, and it succeeds
    assert chat(mixed, "claude-3-haiku-ha").headers["x-gateway-deployment"] == f"bedrock/{HAIKU}"
    metrics = httpx.get(f"{mixed.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
    assert f'llm_gateway_deployment_circuit_state{{deployment="bedrock/{HAIKU}",state="closed"}} 0' in metrics


def test_usage_is_recorded_once_for_the_deployment_that_answered(mixed: Gateway, emulator_url: str) -> None:
    fault(emulator_url, error="ThrottlingException", count=1)
    raw = chat(mixed, "claude-3-haiku-ha", "book this once")
    request_id = raw.headers["x-request-id"]
    deadline = time.monotonic() + 10
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(mixed.env["LLM_GATEWAY_SQLITE_PATH"]) as db:
            rows = db.execute("SELECT bedrock_model_id, status, cost_nanos FROM usage_records WHERE request_id = ?",
                              (request_id,)).fetchall()
        if rows:
            break
        time.sleep(0.2)
    assert len(rows) == 1, rows
    assert rows[0][:2] == ("local/echo-mini", "ok") and float(rows[0][2]) > 0
