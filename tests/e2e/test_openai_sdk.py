"""The official openai SDK against a real gateway process and the Bedrock emulator (real botocore paths)."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel

from tests.e2e.conftest import Gateway, GatewayFactory

pytestmark = pytest.mark.e2e

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
# A 1x1 transparent PNG.
PNG_1PX = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)).decode()


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


def test_plain_completion_matches_openai_shape(gateway: Gateway) -> None:
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="claude-3-haiku", messages=user("Say hi EMULATOR:reply=Hello there!")
    )
    completion = raw.parse()
    ChatCompletion.model_validate(completion.model_dump())
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "claude-3-haiku"
    assert completion.choices[0].message.content == "Hello there!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    metadata = completion.model_extra["gateway_metadata"]  # type: ignore[index]
    assert metadata["team_id"] == "demo" and metadata["provider"] == "aws-bedrock"
    assert metadata["cost_usd"] > 0 and metadata["latency_ms"] >= 0
    assert raw.headers["x-request-id"]
    assert raw.headers["x-ratelimit-limit-requests"]
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(metadata["cost_usd"])


def test_streaming_with_usage(gateway: Gateway) -> None:
    stream = gateway.client().chat.completions.create(
        model="claude-3-haiku", messages=user("EMULATOR:reply=one two three four five six"),
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four five six"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # really streamed
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].model_extra["gateway_metadata"]["cost_usd"] > 0  # type: ignore[index]


def test_streaming_without_usage_has_no_usage_chunk(gateway: Gateway) -> None:
    chunks = list(gateway.client().chat.completions.create(
        model="claude-3-haiku", messages=user("EMULATOR:reply=hi"), stream=True
    ))
    assert all(c.choices for c in chunks)


def test_tool_call_round_trip(gateway: Gateway) -> None:
    client = gateway.client()
    messages: list[dict[str, object]] = user("What's the weather in Paris? EMULATOR:tool")
    first = client.chat.completions.create(model="claude-3-haiku", messages=messages, tools=[WEATHER_TOOL],
                                           tool_choice="auto")
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments)["city"]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
    ]
    second = client.chat.completions.create(model="claude-3-haiku", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content


def test_streamed_tool_calls_have_contiguous_indexes(gateway: Gateway) -> None:
    chunks = list(gateway.client().chat.completions.create(
        model="claude-3-haiku",
        messages=user("weather? EMULATOR:tool EMULATOR:parallel_tools=2 EMULATOR:text_before_tool"),
        tools=[WEATHER_TOOL], stream=True,
    ))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            entry["name"] += (delta.function.name or "") if delta.function else ""
            entry["arguments"] += (delta.function.arguments or "") if delta.function else ""
    assert sorted(calls) == [0, 1]
    assert all(c["name"] == "get_weather" and json.loads(c["arguments"]) for c in calls.values())
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_vision_data_url(gateway: Gateway) -> None:
    completion = gateway.client().chat.completions.create(model="claude-3-haiku", messages=[{
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this image? EMULATOR:reply=a pixel"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
        ],
    }])
    assert completion.choices[0].message.content == "a pixel"


def test_http_image_url_is_a_clear_400(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gateway.client().chat.completions.create(model="claude-3-haiku", messages=[{
            "role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
        }])
    assert "image" in info.value.message.lower()


def test_error_classes(gateway: Gateway) -> None:
    client = gateway.client()
    with pytest.raises(openai.AuthenticationError):
        gateway.client("sk-gw-wrong").chat.completions.create(model="claude-3-haiku", messages=user("x"))
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="gpt-17", messages=user("x"))
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="claude-3-haiku", messages=user("x"), n=2)
    assert bad.value.param == "n"
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="claude-3-haiku", messages=user("EMULATOR:error=ThrottlingException:429"))
    assert int(limited.value.response.headers["retry-after"]) >= 1
    with pytest.raises(openai.InternalServerError) as unavailable:
        client.chat.completions.create(
            model="claude-3-haiku", messages=user("EMULATOR:error=ServiceUnavailableException:503")
        )
    assert unavailable.value.status_code == 503


def test_stream_error_before_content_is_a_real_status(gateway: Gateway) -> None:
    with pytest.raises(openai.RateLimitError):
        gateway.client().chat.completions.create(
            model="claude-3-haiku", messages=user("EMULATOR:error=ThrottlingException:429"), stream=True
        )


def test_mid_stream_error_raises_api_error(gateway: Gateway) -> None:
    stream = gateway.client().chat.completions.create(
        model="claude-3-haiku", messages=user("EMULATOR:words=50 EMULATOR:stream_error_after=3"), stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)


def test_truncated_stream_is_an_error_not_a_success(gateway: Gateway) -> None:
    stream = gateway.client().chat.completions.create(
        model="claude-3-haiku", messages=user("EMULATOR:words=20 EMULATOR:truncate_after=4"), stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)


async def test_async_client_streams(gateway: Gateway) -> None:
    client = gateway.async_client()
    stream = await client.chat.completions.create(
        model="nova-lite", messages=user("EMULATOR:reply=async works"), stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "async works"
    await client.close()


def test_curl_style_requests(gateway: Gateway) -> None:
    headers = {"x-api-key": "sk-e2e-" + "k" * 40}
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "healthy"
        assert health.headers["x-request-id"]
        models = http.get("/v1/models", headers=headers).json()
        ids = {m["id"] for m in models["data"]}
        assert {"claude-3-haiku", "nova-pro", "mistral-large"} <= ids
        one = http.get("/v1/models/claude-3-haiku", headers=headers).json()
        assert one["provider"] == "aws-bedrock" and one["pricing"]["input"] > 0
        alias = http.post("/v1/chat", headers=headers,
                          json={"model": "claude-3-haiku", "messages": user("EMULATOR:reply=ok")})
        assert alias.status_code == 200 and alias.json()["choices"][0]["message"]["content"] == "ok"
        bad_json = http.post("/v1/chat/completions", headers=headers, content=b"{nope")
        assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "invalid_request_error"
        huge = http.post("/v1/chat/completions", headers=headers, content=b"x" * (21 * 1024 * 1024))
        assert huge.status_code == 413
        for body, param in (({"messages": user("x")}, "model"), ({"model": 5, "messages": user("x")}, "model"),
                            ({"model": "claude-3-haiku"}, "messages")):
            invalid = http.post("/v1/chat/completions", headers=headers, json=body)
            assert invalid.status_code == 400 and invalid.json()["error"]["param"] == param
        wrong_method = http.get("/v1/chat/completions", headers=headers)
        assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
        unknown = http.get("/v1/nothing", headers=headers)
        assert unknown.status_code == 404 and "error" in unknown.json()
        missing = http.post("/v1/chat/completions", json={"model": "claude-3-haiku", "messages": user("x")})
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"


class Weather(BaseModel):
    city: str
    temp: int


class GetWeather(BaseModel):
    city: str


def test_sdk_parse_with_a_pydantic_response_format(gateway: Gateway) -> None:
    completion = gateway.client().chat.completions.parse(
        model="claude-3-haiku", messages=user('EMULATOR:reply={"city": "Paris", "temp": 18}'), response_format=Weather)
    message = completion.choices[0].message
    assert message.parsed == Weather(city="Paris", temp=18) and message.refusal is None


def test_sdk_parse_with_strict_pydantic_tools(gateway: Gateway) -> None:
    completion = gateway.client().chat.completions.parse(
        model="claude-3-haiku", messages=user('weather? EMULATOR:tool\nEMULATOR:reply={"city": "Paris"}'),
        tools=[openai.pydantic_function_tool(GetWeather)])
    [call] = completion.choices[0].message.tool_calls or []
    assert call.function.name == "GetWeather" and call.function.parsed_arguments == GetWeather(city="Paris")


def test_sdk_stream_helper_accumulates_text_usage_and_parsed_output(gateway: Gateway) -> None:
    with gateway.client().chat.completions.stream(
        model="claude-3-haiku", messages=user("EMULATOR:reply=hello there"), stream_options={"include_usage": True},
    ) as stream:
        text = "".join(event.delta for event in stream if event.type == "content.delta")
        final = stream.get_final_completion()
    assert text == final.choices[0].message.content == "hello there" and final.usage and final.usage.total_tokens
    with gateway.client().chat.completions.stream(
        model="claude-3-haiku", messages=user('EMULATOR:reply={"city": "Paris", "temp": 18}'), response_format=Weather,
    ) as stream:
        kinds = {event.type for event in stream}
        parsed = stream.get_final_completion().choices[0].message.parsed
    assert "content.done" in kinds and parsed == Weather(city="Paris", temp=18)


NATIVE_CATALOG = """
[models."claude-structured"]
bedrock_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
description = "a model with Bedrock's native structured output"
pricing = { input = "0.003", output = "0.015" }
capabilities = { native_json_schema = true }
"""


def test_native_structured_output_and_strict_tools(
    start_gateway: GatewayFactory, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    catalog = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    catalog.write_text(NATIVE_CATALOG)
    client = start_gateway(LLM_GATEWAY_MODEL_CATALOG=str(catalog)).client()
    completion = client.chat.completions.parse(
        model="claude-structured", messages=user('EMULATOR:reply={"city": "Paris", "temp": 18}'),
        response_format=Weather)
    assert completion.choices[0].message.parsed == Weather(city="Paris", temp=18)
    sent = httpx.get(f"{emulator_url}/_emulator/last_request").json()["body"]
    text_format = sent["outputConfig"]["textFormat"]
    assert "toolConfig" not in sent and text_format["structure"]["jsonSchema"]["name"] == "Weather"
    assert json.loads(text_format["structure"]["jsonSchema"]["schema"])["required"] == ["city", "temp"]
    streamed = list(client.chat.completions.create(
        model="claude-structured", stream=True, messages=user("structured please"),
        response_format={"type": "json_schema", "json_schema": {"name": "empty", "schema": {"type": "object"}}}))
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "{}"
    tool_call = client.chat.completions.parse(
        model="claude-structured", messages=user('weather? EMULATOR:tool\nEMULATOR:reply={"city": "Paris"}'),
        tools=[openai.pydantic_function_tool(GetWeather)]).choices[0].message.tool_calls
    assert tool_call and tool_call[0].function.parsed_arguments == GetWeather(city="Paris")
    spec = httpx.get(f"{emulator_url}/_emulator/last_request").json()["body"]["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["strict"] is True
