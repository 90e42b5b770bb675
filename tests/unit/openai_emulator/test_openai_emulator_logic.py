"""The OpenAI emulator's pure parts: routes, directives, answers, chunks, embeddings, faults.

Every completion and chunk is also validated with the SDK's own models, so a misspelled field fails here.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import orjson
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from bedrock_emulator.directives import DirectiveError
from openai_emulator.asgi import OpenAIError
from openai_emulator.azure import annotate_chunks
from openai_emulator.chat import answer_chat, conversation_tail, prompt_tokens
from openai_emulator.directives import parse_openai_directives
from openai_emulator.embeddings import embeddings_body, vector
from openai_emulator.faults import FaultQueue, parse_fault
from openai_emulator.responses import completion_body, completion_chunks
from openai_emulator.routes import Route, match_route
from openai_emulator.validation import validate_chat

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"}},
            "required": ["city", "days", "metric"],
        },
    },
}
LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}


def chat(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


def answer(body: dict[str, Any]) -> Any:
    validate_chat(body)
    return answer_chat(body, parse_openai_directives(conversation_tail(body["messages"])[0]))


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/v1/chat/completions", Route("chat", "openai")),
        ("POST", "/v1/embeddings", Route("embeddings", "openai")),
        ("GET", "/v1/models", Route("models", "openai")),
        ("GET", "/v1/models/gpt-4o", Route("models", "openai", model_id="gpt-4o")),
        ("POST", "/openai/deployments/prod-4o/chat/completions", Route("chat", "azure", deployment="prod-4o")),
        ("POST", "/openai/deployments/emb/embeddings", Route("embeddings", "azure", deployment="emb")),
        ("POST", "/openai/v1/chat/completions", Route("chat", "azure_v1")),
        ("GET", "/openai/v1/models", Route("models", "azure_v1")),
        ("GET", "/v1/chat/completions", None),
        ("POST", "/v1/completions", None),
        ("POST", "/openai/deployments//chat/completions", None),
        ("POST", "/chat/completions", None),
    ],
)
def test_routes(method: str, path: str, route: Route | None) -> None:
    assert match_route(method, path) == route


def test_directives_take_statuses_and_openai_values() -> None:
    found = parse_openai_directives("EMULATOR:error=503 EMULATOR:retry_after=7 EMULATOR:stop=content_filter")
    assert found.error == ("503", 503) and found.error_status == 503 and found.retry_after == 7
    assert found.stop == "content_filter"
    assert parse_openai_directives("EMULATOR:error=ThrottlingException").error_status == 429
    event = parse_openai_directives("EMULATOR:stream_error_after=2:event")
    assert event.stream_error_after is not None and event.stream_error_after[0] == 2 and event.stream_error_event
    assert not parse_openai_directives("EMULATOR:stream_error_after=2").stream_error_event


@pytest.mark.parametrize(
    "bad",
    ["EMULATOR:error=200", "EMULATOR:retry_after=-1", "EMULATOR:stop=end_turn", "EMULATOR:thinking",
     "EMULATOR:stream_error_after=1:throttlingException", "EMULATOR:bogus=1"],
)
def test_bad_directives(bad: str) -> None:
    with pytest.raises(DirectiveError):
        parse_openai_directives(bad)


def test_echo_completion_is_a_valid_chat_completion() -> None:
    result = answer(chat("Hello there EMULATOR:usage=11,22"))
    body = completion_body(result, model="gpt-4o", completion_id="chatcmpl-x")
    parsed = ChatCompletion.model_validate(body)
    assert parsed.choices[0].message.content == "Echo: Hello there"
    assert parsed.choices[0].finish_reason == "stop"
    assert parsed.usage is not None and (parsed.usage.prompt_tokens, parsed.usage.completion_tokens) == (11, 22)
    assert parsed.created == 1_700_000_000


def test_usage_counts_text_tool_calls_tools_and_images() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    body = {"model": "m", "messages": [
        {"role": "system", "content": "abcd"},
        {"role": "user", "content": [{"type": "text", "text": "efgh"}, image, image]},
    ]}
    assert prompt_tokens(body) == 2 + 2 * 85
    result = answer(chat("abcdefgh"))
    assert (result.prompt_tokens, result.completion_tokens) == (2, math.ceil(len("Echo: abcdefgh") / 4))
    with_tools = chat("x", tools=[WEATHER])
    assert prompt_tokens(with_tools) == math.ceil((1 + len(orjson.dumps([WEATHER]))) / 4)


@pytest.mark.parametrize(
    ("text", "extra", "called"),
    [
        ("What's the weather?", {}, "get_weather"),
        ("hi EMULATOR:tool", {}, "get_weather"),
        ("hi", {"tool_choice": "required"}, "get_weather"),
        ("hi", {"tool_choice": {"type": "function", "function": {"name": "lookup"}}}, "lookup"),
        ("weather", {"tool_choice": "none"}, None),
        ("hi", {}, None),
    ],
)
def test_tool_calls(text: str, extra: dict[str, Any], called: str | None) -> None:
    result = answer(chat(text, tools=[WEATHER, LOOKUP], **extra))
    names = [call["function"]["name"] for call in result.tool_calls]
    assert names == ([called] if called else [])
    if called == "get_weather":
        arguments = orjson.loads(result.tool_calls[0]["function"]["arguments"])
        assert arguments == {"city": "Paris", "days": 1, "metric": True}
        assert result.finish_reason == "tool_calls" and result.content is None


def test_tool_results_answer_with_result_and_new_call_ids() -> None:
    first = answer(chat("weather in Paris?", tools=[WEATHER]))
    history = [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": first.tool_calls},
        {"role": "tool", "tool_call_id": first.tool_calls[0]["id"], "content": "Sunny, 21C"},
    ]
    follow_up = answer({"model": "m", "messages": history, "tools": [WEATHER]})
    assert follow_up.content == "Result: Sunny, 21C" and follow_up.tool_calls == []
    forced = answer({"model": "m", "messages": history, "tools": [WEATHER], "tool_choice": "required"})
    assert forced.tool_calls[0]["id"] != first.tool_calls[0]["id"]


def test_parallel_tools_text_before_and_reply_arguments() -> None:
    result = answer(chat("EMULATOR:parallel_tools=3 EMULATOR:text_before_tool", tools=[WEATHER]))
    assert len(result.tool_calls) == 3 and len({c["id"] for c in result.tool_calls}) == 3
    assert result.content == "Let me call a tool for that."
    single = answer(chat("EMULATOR:parallel_tools=3", tools=[WEATHER], parallel_tool_calls=False))
    assert len(single.tool_calls) == 1
    given = answer(chat('EMULATOR:tool\nEMULATOR:reply={"city": "Oslo"}', tools=[WEATHER]))
    assert orjson.loads(given.tool_calls[0]["function"]["arguments"]) == {"city": "Oslo"}


def test_limits_stop_and_response_formats() -> None:
    cut = answer(chat("EMULATOR:words=50", max_completion_tokens=3))
    assert cut.content == "word1 word2 " and cut.finish_reason == "length"
    assert answer(chat("EMULATOR:words=50", max_tokens=2)).content == "word1 wo"
    stopped = answer(chat("EMULATOR:words=5", stop=["word3", "word4"]))
    assert stopped.content == "word1 word2 " and stopped.finish_reason == "stop"
    assert orjson.loads(answer(chat("Hi", response_format={"type": "json_object"})).content) == {"echo": "Hi"}
    schema = {"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER["function"]["parameters"]}}
    assert orjson.loads(answer(chat("Hi", response_format=schema)).content)["city"] == "Paris"


def test_stream_chunks_are_valid_and_add_up_to_the_completion() -> None:
    result = answer(chat("weather please EMULATOR:text_before_tool", tools=[WEATHER]))
    chunks = completion_chunks(result, model="gpt-4o", completion_id="chatcmpl-x", include_usage=True)
    parsed = [ChatCompletionChunk.model_validate(chunk) for chunk in chunks]
    assert parsed[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in parsed if c.choices) == result.content
    arguments = "".join(
        call.function.arguments or "" for c in parsed if c.choices for call in c.choices[0].delta.tool_calls or []
        if call.function
    )
    assert arguments == result.tool_calls[0]["function"]["arguments"]
    assert [c.choices[0].finish_reason for c in parsed if c.choices][-1] == "tool_calls"
    assert parsed[-1].choices == [] and parsed[-1].usage is not None
    assert all(chunk["usage"] is None for chunk in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    chunks = completion_chunks(answer(chat()), model="m", completion_id="c", include_usage=False)
    assert all(chunk["choices"] and "usage" not in chunk for chunk in chunks)


def test_azure_stream_starts_with_a_blank_prompt_filter_chunk() -> None:
    chunks = annotate_chunks(completion_chunks(answer(chat()), model="m", completion_id="c", include_usage=False))
    assert chunks[0]["choices"] == [] and chunks[0]["id"] == "" and chunks[0]["prompt_filter_results"]
    assert chunks[2]["choices"][0]["content_filter_results"]["hate"] == {"filtered": False, "severity": "safe"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(tool_choice="required"), "tool_choice"),
        (chat(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}), "tool_choice"),
        (chat(tools=[{"type": "function", "function": {"name": "bad name"}}]), "tools[0].function.name"),
        (chat(tools=["get_weather"]), "tools[0].type"),
        (chat(tools=[{"function": WEATHER["function"]}]), "tools[0].type"),
        (chat(tools=[{"type": "function", "function": {"name": "f", "parameters": []}}]),
         "tools[0].function.parameters"),
        (chat(response_format="json"), "response_format"),
        (chat(stop=3), "stop"),
        (chat(stream_options={"include_usage": True}), "stream_options"),
        (chat(n=2), "n"),
    ],
)
def test_chat_validation(body: dict[str, Any], param: str) -> None:
    with pytest.raises(OpenAIError) as caught:
        validate_chat(body)
    assert caught.value.status == 400 and caught.value.param == param


def test_vectors_are_deterministic_unit_length_and_prefix_consistent() -> None:
    full, again, short = vector("hello", 1536), vector("hello", 1536), vector("hello", 8)
    assert full == again and full != vector("hellp", 1536)
    assert math.isclose(math.fsum(v * v for v in full), 1.0, rel_tol=1e-5)
    norm = math.sqrt(math.fsum(v * v for v in full[:8]))
    assert short == pytest.approx([v / norm for v in full[:8]], rel=1e-5)


def test_embeddings_body_float_base64_tokens_and_usage() -> None:
    floats = embeddings_body({"input": ["abcde", [1, 2, 3]], "dimensions": 16}, "text-embedding-3-small")
    CreateEmbeddingResponse.model_validate(floats)
    assert [len(d["embedding"]) for d in floats["data"]] == [16, 16]
    assert floats["usage"] == {"prompt_tokens": 2 + 3, "total_tokens": 5}
    encoded = embeddings_body({"input": "abcde", "dimensions": 16, "encoding_format": "base64"}, "m")
    raw = base64.b64decode(encoded["data"][0]["embedding"])
    assert list(struct.unpack("<16f", raw)) == floats["data"][0]["embedding"]
    assert len(embeddings_body({"input": "x"}, "text-embedding-3-large")["data"][0]["embedding"]) == 3072


@pytest.mark.parametrize("body", [{}, {"input": ""}, {"input": []}, {"input": [""]}, {"input": "x", "dimensions": 0},
                                  {"input": "x", "encoding_format": "hex"}, {"input": [[]]}])
def test_embeddings_validation(body: dict[str, Any]) -> None:
    with pytest.raises(OpenAIError) as caught:
        embeddings_body(body, "m")
    assert caught.value.status == 400


def test_fault_queue_matches_in_order_and_counts_down() -> None:
    queue = FaultQueue()
    queue.add(parse_fault({"status": 503, "count": 2, "model": "a"}))
    queue.add(parse_fault({"status": 429, "count": -1, "operation": "embeddings"}))
    assert queue.take({"b"}, "chat") is None
    first = queue.take({"a"}, "chat")
    assert first is not None and first.status == 503 and first.retry_after is None
    assert queue.take({"a"}, "chat") is not None and queue.take({"a"}, "chat") is None
    forever = [queue.take({"x"}, "embeddings") for _ in range(5)]
    assert all(f is not None and f.status == 429 and f.retry_after == 1 for f in forever)
    assert len(queue.pending) == 1


@pytest.mark.parametrize(
    "payload",
    [[], {"status": 200}, {"count": 0}, {"kind": "explode"}, {"delay_ms": -1}, {"operation": "images"}, {"bogus": 1}],
)
def test_bad_faults(payload: Any) -> None:
    with pytest.raises(OpenAIError):
        parse_fault(payload)
