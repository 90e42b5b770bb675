"""The emulator's InvokeModel / InvokeModelWithResponseStream / CountTokens logic, without HTTP.

Anthropic bodies are answered by the same model as Converse bodies: these tests hold the two paths to
the same text, tool calls and token counts, and the stream to Anthropic's event grammar.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest

from bedrock_emulator.anthropic_validation import KNOWN_BETAS, validate_messages_body
from bedrock_emulator.asgi import EmulatedError
from bedrock_emulator.directives import ANTHROPIC_STOP_REASONS, DirectiveError, parse_directives
from bedrock_emulator.invoke import (
    anthropic_events,
    chunk,
    converse_view,
    message_body,
    prepare_count_tokens,
    prepare_invoke,
    prepare_invoke_stream,
)
from bedrock_emulator.operations import JsonResult, StreamResult, prepare_converse
from bedrock_emulator.reply import build_reply
from bedrock_emulator.validation import RequestInvalid

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CONVERSE_WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {"json": WEATHER["input_schema"]},
    }
}


def anthropic(text: str | list[dict] = "Hello", **extra: Any) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 2048,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def converse(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **extra}


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


# --- validation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"anthropic_version": None}, "required key [anthropic_version] not found"),
        ({"max_tokens": None}, "required key [max_tokens] not found"),
        ({"messages": None}, "required key [messages] not found"),
        ({"model": "claude"}, "extraneous key [model] is not permitted"),
        ({"stream": True}, "extraneous key [stream] is not permitted"),
        ({"anthropic_version": "2023-06-01"}, "Invalid API version: 2023-06-01"),
        ({"anthropic_beta": ["mcp-servers-2025-12-04"]}, "invalid beta flag"),
        ({"anthropic_beta": "interleaved-thinking-2025-05-14"}, "anthropic_beta"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"temperature": 1.5}, "temperature"),
        ({"messages": []}, "at least one message"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, 'first message must use the "user" role'),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            'roles must alternate between "user" and "assistant"',
        ),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "must be non-empty"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "  "}]}]}, "non-whitespace"),
        ({"messages": [{"role": "user", "content": ""}]}, "non-empty content"),
        ({"system": [{"type": "text", "text": ""}]}, "must be non-empty"),
        ({"stop_sequences": [" "]}, "stop_sequences"),
        ({"tools": [{"name": "bad name", "input_schema": {"type": "object"}}]}, "tools.0.custom.name"),
        ({"tools": [{"name": "f"}]}, "input_schema: Field required"),
        ({"tools": [{"name": "f", "input_schema": {"type": "string"}}]}, "Input should be 'object'"),
        ({"tools": [WEATHER, WEATHER]}, "unique"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "nope"}}, "nope"),
        ({"tool_choice": {"type": "any"}}, "tool_choice may only be specified while providing tools"),
        ({"thinking": {"type": "enabled", "budget_tokens": 512}}, "greater than or equal to 1024"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}}, "`max_tokens` must be greater"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "temperature": 0.2}, "`temperature` may only"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "top_k": 5}, "top_k"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 1024}, "tools": [WEATHER],
             "tool_choice": {"type": "any"}},
            "forces tool use",
        ),
        ({"system": [{"type": "text", "text": "s", "cache_control": {"type": "persistent"}}]}, "cache_control"),
        (
            {"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "2h"}}]},
            "cache_control",
        ),
        (
            {"system": [{"type": "text", "text": f"s{i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]},
            "A maximum of 4 blocks with cache_control may be provided. Found 5.",
        ),
        (
            {"messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]},
            ]},
            "must define tools",
        ),
        (
            {"tools": [WEATHER], "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather",
                                                   "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": "x"}]},
            ]},
            "unexpected `tool_use_id` found in `tool_result` blocks: t2",
        ),
        (
            {"tools": [WEATHER], "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather",
                                                   "input": {}}]},
                {"role": "user", "content": "no results"},
            ]},
            "`tool_use` ids were found without `tool_result` blocks immediately after: t1",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b "}]},
            "final assistant content cannot end with trailing whitespace",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "thinking", "thinking": "x", "signature": "s"}]}]},
            "only allowed in assistant messages",
        ),
    ],
)
def test_validation_like_bedrock(change: dict[str, Any], fragment: str) -> None:
    body = anthropic()
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    with pytest.raises(RequestInvalid) as info:
        validate_messages_body(body)
    assert fragment in str(info.value)


def test_validation_errors_are_bedrock_validation_exceptions() -> None:
    with pytest.raises(EmulatedError) as info:
        prepare_invoke(MODEL, {**anthropic(), "model": "x"})
    assert (info.value.name, info.value.status) == ("ValidationException", 400)
    assert info.value.message == (
        "Malformed input request: #: extraneous key [model] is not permitted, please reformat your input and try again."
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"anthropic_beta": sorted(KNOWN_BETAS)},
        {"system": "You are terse."},
        {"system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
        {"tools": [WEATHER, {"type": "bash_20250124", "name": "bash"}], "tool_choice": {"type": "auto"}},
        {"tools": [WEATHER], "tool_choice": {"type": "none"}},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}, "temperature": 1, "top_p": 0.95},
        {"thinking": {"type": "enabled", "budget_tokens": 8000}, "anthropic_beta": ["interleaved-thinking-2025-05-14"]},
        {"thinking": {"type": "disabled"}, "temperature": 0.2, "top_k": 5},
        {"stop_sequences": ["END"], "metadata": {"user_id": "u-1"}},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "Sure,"}]},
    ],
)
def test_valid_bodies(extra: dict[str, Any]) -> None:
    validate_messages_body(anthropic(**extra))


# --- the same model behind both APIs ---------------------------------------------------------------------

def test_text_reply_and_usage_match_converse() -> None:
    message = message_body(anthropic("Hello there, emulator"), MODEL)
    reply = build_reply(converse("Hello there, emulator"))
    assert message["content"] == [{"type": "text", "text": "Echo: Hello there, emulator"}]
    assert message["id"].startswith("msg_bdrk_") and message["model"] == MODEL
    assert (message["type"], message["role"], message["stop_reason"], message["stop_sequence"]) == (
        "message", "assistant", "end_turn", None
    )
    assert message["usage"] == {
        "input_tokens": reply.usage["inputTokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": reply.usage["outputTokens"],
    }
    assert message == message_body(anthropic("Hello there, emulator"), MODEL)   # deterministic, id included


def test_tools_system_and_blocks_count_like_their_converse_equivalent() -> None:
    body = anthropic(
        [{"type": "text", "text": "What is the weather in Paris?"}],
        system=[{"type": "text", "text": "Be brief."}],
        tools=[WEATHER],
    )
    message = message_body(body, MODEL)
    reply = build_reply(converse(
        "What is the weather in Paris?", system=[{"text": "Be brief."}], toolConfig={"tools": [CONVERSE_WEATHER]},
        inferenceConfig={"maxTokens": 2048},
    ))
    assert message["stop_reason"] == "tool_use"
    [use] = message["content"]
    assert (use["type"], use["name"], use["input"]) == ("tool_use", "get_weather", {"city": "Paris"})
    assert use["id"].startswith("toolu_bdrk_")
    assert message["usage"]["input_tokens"] == reply.usage["inputTokens"]
    assert message["usage"]["output_tokens"] == reply.usage["outputTokens"]


def test_tool_result_round_trip() -> None:
    first = message_body(anthropic("weather?", tools=[WEATHER]), MODEL)
    use = first["content"][0]
    body = anthropic(tools=[WEATHER])
    body["messages"] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "sunny, 21C"}]},
    ]
    validate_messages_body(body)
    assert message_body(body, MODEL)["content"] == [{"type": "text", "text": "Result: sunny, 21C"}]


def test_forced_none_and_directed_tool_choice() -> None:
    tools = [{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}, WEATHER]
    choice = {"type": "tool", "name": "get_weather"}
    forced = message_body(anthropic("anything", tools=tools, tool_choice=choice), MODEL)
    assert forced["content"][0]["name"] == "get_weather"
    assert message_body(anthropic("anything EMULATOR:tool", tools=tools), MODEL)["content"][0]["name"] == "lookup"
    none = message_body(anthropic("weather? EMULATOR:tool", tools=tools, tool_choice={"type": "none"}), MODEL)
    assert none["stop_reason"] == "end_turn" and none["content"][0]["type"] == "text"
    # Tools still cost input tokens when the model may not call them.
    without_tools = message_body(anthropic("weather? EMULATOR:tool"), MODEL)
    assert none["usage"]["input_tokens"] > without_tools["usage"]["input_tokens"]
    parallel = message_body(anthropic("EMULATOR:parallel_tools=2 EMULATOR:text_before_tool", tools=tools), MODEL)
    assert [b["type"] for b in parallel["content"]] == ["text", "tool_use", "tool_use"]
    assert parallel["content"][1]["id"] != parallel["content"][2]["id"]


def test_thinking_block_first_with_signature() -> None:
    body = anthropic("think", thinking={"type": "enabled", "budget_tokens": 1024})
    message = message_body(body, MODEL)
    thinking, text = message["content"]
    assert thinking["type"] == "thinking" and thinking["thinking"] and thinking["signature"].startswith("emu-sig-")
    assert text == {"type": "text", "text": "Echo: think"}
    assert message_body(body, MODEL)["content"][0] == thinking    # deterministic signature
    # The thinking directive adds the block without the request asking; converse gets reasoningContent.
    assert message_body(anthropic("EMULATOR:thinking hi"), MODEL)["content"][0]["type"] == "thinking"
    assert "reasoningContent" in build_reply(converse("EMULATOR:thinking hi")).blocks[0]


def test_limits_and_stop_sequences() -> None:
    cut = message_body(anthropic("EMULATOR:reply=alpha beta STOP gamma", stop_sequences=["STOP"]), MODEL)
    assert (cut["content"][0]["text"], cut["stop_reason"], cut["stop_sequence"]) == (
        "alpha beta ", "stop_sequence", "STOP"
    )
    long = message_body({**anthropic("EMULATOR:words=100"), "max_tokens": 5}, MODEL)
    assert (long["stop_reason"], len(long["content"][0]["text"]), long["stop_sequence"]) == ("max_tokens", 20, None)


def test_directives() -> None:
    assert message_body(anthropic("EMULATOR:reply=Exactly this."), MODEL)["content"][0]["text"] == "Exactly this."
    assert message_body(anthropic("EMULATOR:stop=refusal"), MODEL)["stop_reason"] == "refusal"
    usage = message_body(anthropic("EMULATOR:usage=12,34"), MODEL)["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (12, 34)
    words = message_body(anthropic("EMULATOR:words=5"), MODEL)["content"][0]["text"]
    assert words == "word1 word2 word3 word4 word5"
    call = prepare_invoke(MODEL, anthropic("EMULATOR:error=ThrottlingException EMULATOR:delay_ms=5"))
    assert call.directives.error == ("ThrottlingException", 429) and call.directives.delay_ms == 5


def test_stop_reasons_belong_to_their_api() -> None:
    assert parse_directives("EMULATOR:stop=pause_turn", ANTHROPIC_STOP_REASONS).stop == "pause_turn"
    with pytest.raises(DirectiveError):
        parse_directives("EMULATOR:stop=pause_turn")       # not a Converse stopReason
    with pytest.raises(DirectiveError):
        parse_directives("EMULATOR:stop=guardrail_intervened", ANTHROPIC_STOP_REASONS)
    with pytest.raises(EmulatedError, match="unknown stop reason"):
        prepare_invoke(MODEL, anthropic("EMULATOR:stop=content_filtered"))
    with pytest.raises(EmulatedError, match="unknown stop reason"):
        prepare_converse(MODEL, converse("EMULATOR:stop=refusal"))


# --- prompt caching --------------------------------------------------------------------------------------

def test_cache_control_reads_like_a_converse_cache_point() -> None:
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}]
    message = message_body(anthropic("hi", system=system), MODEL)
    reply = build_reply(converse("hi", system=[{"text": "x" * 400}, {"cachePoint": {"type": "default"}}]))
    assert message["usage"]["cache_read_input_tokens"] == reply.usage["cacheReadInputTokens"] == 100
    assert message["usage"]["input_tokens"] == reply.usage["inputTokens"] == 1
    assert message["usage"]["cache_creation_input_tokens"] == 0


def test_cache_write_directive_and_ttl_split() -> None:
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    usage = message_body(anthropic("EMULATOR:cache_write", system=system), MODEL)["usage"]
    assert (usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]) == (100, 0)
    assert usage["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100}
    converse_usage = build_reply(
        converse("EMULATOR:cache_write", system=[{"text": "x" * 400}, {"cachePoint": {"type": "default"}}])
    ).usage
    assert (converse_usage["cacheWriteInputTokens"], converse_usage["cacheReadInputTokens"]) == (100, 0)


def test_cache_breakpoint_on_tools_and_messages_includes_the_marked_block() -> None:
    tool = {**WEATHER, "cache_control": {"type": "ephemeral"}}
    body = anthropic(
        [{"type": "text", "text": "a" * 40, "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "tail"}],
        tools=[tool],
    )
    view = converse_view(body)
    assert view["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default"}}
    assert view["messages"][0]["content"][1] == {"cachePoint": {"type": "default"}}
    usage = message_body(body, MODEL)["usage"]
    assert usage["input_tokens"] == 1   # only "tail" is after the last breakpoint


# --- the stream ------------------------------------------------------------------------------------------

def test_text_stream_grammar_and_content() -> None:
    message = message_body(anthropic("one two three four"), MODEL)
    events = anthropic_events(message, 10)
    assert types(events) == [
        "message_start", "content_block_start", *["content_block_delta"] * 5, "content_block_stop",
        "message_delta", "message_stop",
    ]
    start = events[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["output_tokens"] == 1
    assert start["usage"]["input_tokens"] == message["usage"]["input_tokens"] and start["id"] == message["id"]
    assert events[1]["content_block"] == {"type": "text", "text": ""}
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "Echo: one two three four"
    assert events[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": message["usage"]["output_tokens"]},
    }
    assert events[-1] == {
        "type": "message_stop",
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": message["usage"]["input_tokens"],
            "outputTokenCount": message["usage"]["output_tokens"],
            "invocationLatency": 10,
            "firstByteLatency": 10,
        },
    }


def test_thinking_and_tool_use_stream() -> None:
    body = anthropic("weather?", tools=[WEATHER], thinking={"type": "enabled", "budget_tokens": 1024})
    message = message_body(body, MODEL)
    events = anthropic_events(message, 10)
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["thinking", "tool_use"]
    assert starts[0]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    use = message["content"][1]
    assert starts[1]["content_block"] == {"type": "tool_use", "id": use["id"], "name": "get_weather", "input": {}}
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    kinds = [d["type"] for d in deltas]
    assert kinds == sorted(kinds, key=["thinking_delta", "signature_delta", "input_json_delta"].index)
    assert "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta") == message["content"][0]["thinking"]
    assert [d["signature"] for d in deltas if d["type"] == "signature_delta"] == [message["content"][0]["signature"]]
    pieces = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len(pieces) == 3 and json.loads("".join(pieces)) == {"city": "Paris"}
    assert [e["index"] for e in events if e["type"] == "content_block_stop"] == [0, 1]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_cache_tokens_in_stream_start_and_metrics() -> None:
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}]
    events = anthropic_events(message_body(anthropic("hi", system=system), MODEL), 10, chunk_delay_ms=5)
    assert events[0]["message"]["usage"]["cache_read_input_tokens"] == 100
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["cacheReadInputTokenCount"] == 100 and metrics["inputTokenCount"] == 1
    assert metrics["invocationLatency"] == 10 + 5 * (len(events) - 1) and metrics["firstByteLatency"] == 10


def test_chunks_carry_base64_event_json() -> None:
    call = prepare_invoke_stream(MODEL, anthropic("EMULATOR:reply=Hi there"))
    result = call.respond(10)
    assert isinstance(result, StreamResult)
    assert (b"x-amzn-bedrock-content-type", b"application/json") in result.headers
    decoded = []
    for event_type, payload in result.events:
        assert event_type == "chunk" and set(payload) == {"bytes"}
        decoded.append(orjson.loads(base64.b64decode(payload["bytes"], validate=True)))
    assert decoded == anthropic_events(message_body(anthropic("EMULATOR:reply=Hi there"), MODEL), 10)
    expected = base64.b64encode(b'{"type":"message_stop"}').decode()
    assert chunk({"type": "message_stop"}) == ("chunk", {"bytes": expected})


def test_invoke_headers_report_usage_and_latency() -> None:
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}]
    result = prepare_invoke(MODEL, anthropic("hi", system=system)).respond(42)
    assert isinstance(result, JsonResult)
    headers = dict(result.headers)
    usage = result.payload["usage"]
    assert headers[b"x-amzn-bedrock-invocation-latency"] == b"42"
    assert headers[b"x-amzn-bedrock-input-token-count"] == str(usage["input_tokens"]).encode()
    assert headers[b"x-amzn-bedrock-output-token-count"] == str(usage["output_tokens"]).encode()
    assert headers[b"x-amzn-bedrock-cache-read-input-token-count"] == b"100"


# --- CountTokens -----------------------------------------------------------------------------------------

def count(body: dict) -> int:
    result = prepare_count_tokens(MODEL, body).respond(10)
    assert isinstance(result, JsonResult)
    return int(result.payload["inputTokens"])


def test_count_tokens_matches_what_invoke_and_converse_report() -> None:
    body = anthropic("What is the weather in Paris?", system="Be brief.", tools=[WEATHER])
    expected = message_body(body, MODEL)["usage"]["input_tokens"]
    text = json.dumps(body)
    assert count({"input": {"invokeModel": {"body": base64.b64encode(text.encode()).decode()}}}) == expected
    assert count({"input": {"invokeModel": {"body": text}}}) == expected
    conv = converse("What is the weather in Paris?", system=[{"text": "Be brief."}],
                    toolConfig={"tools": [CONVERSE_WEATHER]})
    assert count({"input": {"converse": conv}}) == build_reply(conv).usage["inputTokens"] == expected


def test_count_tokens_includes_cached_prefix_and_honours_usage() -> None:
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}]
    usage = message_body(anthropic("hi", system=system), MODEL)["usage"]
    total = usage["input_tokens"] + usage["cache_read_input_tokens"]
    assert count({"input": {"invokeModel": {"body": json.dumps(anthropic("hi", system=system))}}}) == total == 101
    assert count({"input": {"converse": converse("EMULATOR:usage=7,8")}}) == 7


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "Member must not be null"),
        ({"input": {}}, "exactly one"),
        ({"input": {"invokeModel": {"body": "not json"}}}, "not a valid JSON"),
        ({"input": {"invokeModel": {"body": json.dumps({**anthropic(), "model": "x"})}}}, "extraneous key [model]"),
        ({"input": {"converse": {**converse("a"), "inferenceConfig": {"maxTokens": 5}}}}, "inferenceConfig"),
        ({"input": {"converse": {"messages": []}}}, "must not be empty"),
    ],
)
def test_count_tokens_validation(body: dict, fragment: str) -> None:
    with pytest.raises(EmulatedError) as info:
        prepare_count_tokens(MODEL, body)
    assert info.value.name == "ValidationException" and fragment in info.value.message
