"""Converse translation rules beyond the golden cases: tools and tool_choice, history, names, limits, and the
stream state machine's edge cases."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from translators.anthropic_bedrock import (
    ConverseToAnthropicStream,
    StreamIncomplete,
    TranslationError,
    anthropic_request_to_converse,
    converse_response_to_anthropic,
)
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.usage import Usage

CAPS = ModelCapabilities()
HI = [{"role": "user", "content": "Hi"}]
TOOL = {"name": "get_weather", "description": "w", "input_schema": {"type": "object"}}
CALL = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}]}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 100, "messages": HI, **fields}


def _converse(caps: ModelCapabilities = CAPS, **fields: Any) -> Any:
    return anthropic_request_to_converse(_body(**fields), capabilities=caps)


def _error(caps: ModelCapabilities = CAPS, **fields: Any) -> TranslationError:
    with pytest.raises(TranslationError) as info:
        _converse(caps, **fields)
    return info.value


def test_tool_choice_mapping() -> None:
    assert _converse(tools=[TOOL], tool_choice={"type": "auto"}).body["toolConfig"]["toolChoice"] == {"auto": {}}
    named = _converse(tools=[TOOL], tool_choice={"type": "tool", "name": "get_weather"})
    assert named.body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    assert "toolConfig" not in _converse(tools=[TOOL], tool_choice={"type": "none"}).body
    history = [*HI, CALL, RESULT]
    kept = _converse(tools=[TOOL], tool_choice={"type": "none"}, messages=history).body["toolConfig"]
    assert "toolChoice" not in kept and kept["tools"]  # Bedrock needs the tools while history holds tool blocks
    assert _error(tools=[TOOL], tool_choice={"type": "tool", "name": "nope"}).param == "tool_choice.name"
    assert _error(tools=[TOOL], tool_choice={"type": "maybe"}).param == "tool_choice.type"


def test_history_tools_without_tools_get_minimal_specs() -> None:
    body = _converse(messages=[*HI, CALL, RESULT]).body
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"


def test_models_without_tools_get_history_as_text_and_tools_refused() -> None:
    caps = ModelCapabilities(tools=False)
    body = _converse(caps, messages=[*HI, CALL, RESULT]).body
    assert "toolConfig" not in body
    assert body["messages"][1]["content"] == [{"text": "[tool call t1: get_weather({})]"}]
    assert body["messages"][2]["content"] == [{"text": "[tool result t1]: sunny"}]
    assert _error(caps, tools=[TOOL]).code == "unsupported_parameter"


def test_streaming_tools_capability() -> None:
    caps = ModelCapabilities(streaming_tools=False)
    assert _converse(caps, tools=[TOOL]).body["toolConfig"]
    assert _error(caps, tools=[TOOL], stream=True).param == "stream"


def test_unsafe_tool_names_are_mapped_back() -> None:
    tool = {**TOOL, "name": "mcp.server/tool"}
    req = _converse(tools=[tool])
    safe = req.body["toolConfig"]["tools"][0]["toolSpec"]["name"]
    assert safe != "mcp.server/tool" and req.tool_names[safe] == "mcp.server/tool"
    resp = {"output": {"message": {"content": [{"toolUse": {"toolUseId": "x", "name": safe, "input": {}}}]}},
            "stopReason": "tool_use"}
    message = converse_response_to_anthropic(resp, request=req, model="m", message_id="msg_1")
    assert message["content"][0]["name"] == "mcp.server/tool"
    stream = ConverseToAnthropicStream(req, model="m", message_id="msg_1")
    events = stream.feed({"contentBlockStart": {"start": {"toolUse": {"toolUseId": "x", "name": safe}},
                                                "contentBlockIndex": 3}})
    assert events[-1][1]["content_block"]["name"] == "mcp.server/tool"
    assert events[-1][1]["index"] == 0  # Anthropic indexes count from 0 whatever Converse's are


def test_anthropic_defined_tools_need_claude() -> None:
    err = _error(tools=[{"type": "text_editor_20250124", "name": "str_replace_editor"}])
    assert (err.param, err.code) == ("tools[0].type", "unsupported_tool")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": "x"}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"stop_sequences": "###"}, "stop_sequences"),
        ({"tools": [{"name": ""}]}, "tools[0].name"),
        ({"tools": [TOOL, TOOL]}, "tools[1].name"),
        ({"tools": [{"name": "t", "input_schema": []}]}, "tools[0].input_schema"),
        ({"messages": [{"role": "user", "content": []}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_use"}]}]}, "messages[0].content[0].type"),
        ({"messages": [RESULT]}, "messages[0].content[0].tool_use_id"),
        ({"messages": [{"role": "user", "content": [{"type": "search_result"}]}]}, "messages[0].content[0].type"),
        ({"system": [{"type": "image"}]}, "system[0]"),
        ({"output_config": {"format": {"type": "xml"}}}, "output_config"),
    ],
)
def test_invalid_input_names_the_param(fields: dict[str, Any], param: str) -> None:
    assert _error(**fields).param == param


def test_images_need_vision_and_inline_base64() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": "AAAA"}}
    assert _error(messages=[{"role": "user", "content": [image]}]).param == "messages[0].content[0].source.media_type"
    bad = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "!!"}}
    assert _error(messages=[{"role": "user", "content": [bad]}]).param == "messages[0].content[0].source.data"
    png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    err = _error(ModelCapabilities(vision=False), messages=[{"role": "user", "content": [png]}])
    assert err.code == "unsupported_content"


def test_too_many_cache_points_is_a_400() -> None:
    marked = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    messages = [{"role": "user", "content": [marked] * 3}]
    system = [marked, {**marked, "text": "y"}]
    err = _error(ModelCapabilities(prompt_caching=True), system=system, messages=messages)
    assert err.code == "too_many_cache_points"
    assert "cachePoint" not in str(_converse(system=system, messages=messages).body)  # no caching: hints dropped


def test_system_for_models_without_system_goes_to_the_first_turn() -> None:
    body = _converse(ModelCapabilities(system=False), system="rules").body
    assert "system" not in body
    assert body["messages"][0]["content"] == [{"text": "rules"}, {"text": "Hi"}]


def test_input_body_is_not_mutated() -> None:
    body = _body(system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
                 messages=[{"role": "system", "content": "r"}, *HI, CALL, RESULT], tools=[TOOL],
                 thinking={"type": "enabled", "budget_tokens": 1024})
    before = copy.deepcopy(body)
    anthropic_request_to_converse(body, capabilities=ModelCapabilities(reasoning=True, prompt_caching=True))
    assert body == before


def test_stop_reasons() -> None:
    req = _converse()
    for converse, anthropic in [("end_turn", "end_turn"), ("max_tokens", "max_tokens"),
                                ("model_context_window_exceeded", "max_tokens"), ("content_filtered", "refusal"),
                                ("malformed_tool_use", "end_turn"), (None, "end_turn")]:
        message = converse_response_to_anthropic({"stopReason": converse}, request=req, model="m", message_id="i")
        assert message["stop_reason"] == anthropic
        assert message["content"] == [] and message["usage"]["input_tokens"] == 0


def _stream(**fields: Any) -> ConverseToAnthropicStream:
    return ConverseToAnthropicStream(_converse(**fields), model="m", message_id="msg_1", input_tokens_estimate=77)


def test_stream_estimate_then_real_usage() -> None:
    stream = _stream()
    start = stream.feed({"messageStart": {"role": "assistant"}})
    assert start[0][1]["message"]["usage"]["input_tokens"] == 77
    assert stream.feed({"messageStop": {"stopReason": "end_turn"}}) == []  # message_delta waits for usage
    final = stream.feed({"metadata": {"usage": {"inputTokens": 5, "outputTokens": 2, "cacheReadInputTokens": 9}}})
    assert [kind for kind, _ in final] == ["message_delta", "message_stop"]
    assert final[0][1]["usage"] == {"input_tokens": 5, "output_tokens": 2, "cache_creation_input_tokens": 0,
                                    "cache_read_input_tokens": 9}
    assert stream.usage == Usage(input_tokens=5, output_tokens=2, cache_read_tokens=9)
    assert stream.feed({"contentBlockDelta": {"delta": {"text": "late"}}}) == [] and stream.finish() == []


def test_stream_metadata_before_stop_and_without_metadata() -> None:
    early = _stream()
    assert early.feed({"metadata": {"usage": {"inputTokens": 1, "outputTokens": 1}}}) == []
    events = early.feed({"messageStop": {"stopReason": "max_tokens"}})
    assert [kind for kind, _ in events] == ["message_start", "message_delta", "message_stop"]
    late = _stream()
    late.feed({"messageStop": {"stopReason": "end_turn"}})
    final = late.finish()
    assert final[0][1]["usage"]["input_tokens"] == 77 and late.usage is None  # usage is never invented
    with pytest.raises(StreamIncomplete):
        _stream().finish()


def test_stream_odd_deltas() -> None:
    stream = _stream()
    assert stream.feed({"unknownEvent": {}}) == []
    orphan = stream.feed({"contentBlockDelta": {"delta": {"toolUse": {"input": "{}"}}, "contentBlockIndex": 0}})
    assert [kind for kind, _ in orphan] == ["message_start"]  # tool input without its start is dropped
    events = stream.feed({"contentBlockDelta": {"delta": {"text": "a"}, "contentBlockIndex": 0}})
    assert [kind for kind, _ in events] == ["content_block_start", "content_block_delta"]
    assert stream.feed({"contentBlockDelta": {"delta": {"text": ""}, "contentBlockIndex": 0}}) == []
    assert stream.feed({"contentBlockStop": {"contentBlockIndex": 5}}) == []  # not the open block
    assert [k for k, _ in stream.feed({"contentBlockStop": {"contentBlockIndex": 0}})] == ["content_block_stop"]
    again = stream.feed({"contentBlockDelta": {"delta": {"text": "b"}, "contentBlockIndex": 0}})
    assert again[0][1]["index"] == 1  # text after its block closed opens a new block, nothing is lost
    switch = stream.feed({"contentBlockDelta": {"delta": {"reasoningContent": {"text": "t"}}, "contentBlockIndex": 1}})
    assert [k for k, _ in switch] == ["content_block_stop", "content_block_start", "content_block_delta"]
