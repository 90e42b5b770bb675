"""Stream state machine behaviour beyond the golden cases: stop reasons, usage, truncation, indices."""

from __future__ import annotations

import functools
import operator
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from translators.openai_bedrock import (
    ConverseRequest,
    ConverseStreamTranslator,
    StreamIncomplete,
    converse_response_to_openai,
)
from translators.openai_bedrock.mappings import FINISH_REASONS

USAGE = {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}


def _request(include_usage: bool = False) -> ConverseRequest:
    return ConverseRequest(body={}, stream=True, include_usage=include_usage)


def _translator(include_usage: bool = False) -> ConverseStreamTranslator:
    return ConverseStreamTranslator(_request(include_usage), model="m", completion_id="c1", created=1)


def _run(events: list[dict[str, Any]], include_usage: bool = False) -> list[dict[str, Any]]:
    translator = _translator(include_usage)
    chunks = [c for e in events for c in translator.feed(e)] + translator.finish()
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def _tool_events(block: int, tool_id: str, pieces: list[str]) -> list[dict[str, Any]]:
    start = {"start": {"toolUse": {"toolUseId": tool_id, "name": "f"}}, "contentBlockIndex": block}
    deltas = [
        {"contentBlockDelta": {"delta": {"toolUse": {"input": p}}, "contentBlockIndex": block}}
        for p in pieces
    ]
    return [{"contentBlockStart": start}, *deltas, {"contentBlockStop": {"contentBlockIndex": block}}]


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [*FINISH_REASONS.items(), ("something_new", "stop")],
)
def test_pitfalls_25_every_stop_reason_in_stream_and_non_stream(stop_reason: str, expected: str) -> None:
    tool = stop_reason == "tool_use"  # tool_use without any tool call would be reported as "stop"
    blocks = _tool_events(0, "t0", ["{}"]) if tool else []
    chunks = _run(
        [{"messageStart": {"role": "assistant"}}, *blocks, {"messageStop": {"stopReason": stop_reason}}]
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == expected
    content = [{"toolUse": {"toolUseId": "t0", "name": "f", "input": {}}}] if tool else [{"text": "x"}]
    resp = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop_reason}
    completion = converse_response_to_openai(
        resp, request=_request(), model="m", completion_id="c1", created=1
    )
    ChatCompletion.model_validate(completion)
    assert completion["choices"][0]["finish_reason"] == expected


def test_pitfalls_26_no_message_stop_raises_and_invents_nothing() -> None:
    translator = _translator(include_usage=True)
    translator.feed({"messageStart": {"role": "assistant"}})
    translator.feed({"metadata": {"usage": USAGE}})
    with pytest.raises(StreamIncomplete) as info:
        translator.finish()
    assert info.value.code == "stream_incomplete"
    assert translator.finish_reason is None


def test_pitfalls_28_usage_chunk_once_and_last_whatever_the_order() -> None:
    for tail in (
        [{"messageStop": {"stopReason": "end_turn"}}, {"metadata": {"usage": USAGE}}],
        [{"metadata": {"usage": USAGE}}, {"messageStop": {"stopReason": "end_turn"}}],
    ):
        chunks = _run([{"messageStart": {"role": "assistant"}}, *tail], include_usage=True)
        usage_chunks = [c for c in chunks if not c["choices"]]
        assert usage_chunks == [chunks[-1]]
        assert chunks[-1]["usage"]["total_tokens"] == 5


def test_usage_and_finish_reason_are_exposed_to_the_proxy() -> None:
    translator = _translator()
    for event in [
        {"messageStart": {}},
        {"messageStop": {"stopReason": "max_tokens"}},
        {"metadata": {"usage": USAGE}},
    ]:
        translator.feed(event)
    assert translator.finish() == []
    assert translator.usage == USAGE
    assert translator.finish_reason == "length"


def test_pitfalls_2_3_interleaved_blocks_keep_their_tool_index() -> None:
    """Indices come from contentBlockIndex order of appearance, never from index arithmetic."""
    a, b = _tool_events(5, "ta", ['{"x":', "1}"]), _tool_events(9, "tb", ['{"y":2}'])
    events = [
        {"messageStart": {}},
        a[0],
        b[0],
        a[1],
        b[1],
        a[2],
        b[2],
        a[3],
        {"messageStop": {"stopReason": "tool_use"}},
    ]
    chunks = _run(events)
    indices = {tc["index"] for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])}
    assert indices == {0, 1}
    assert all(c["choices"][0]["index"] == 0 for c in chunks)


def test_pitfalls_1_langchain_sees_one_call_per_tool_use() -> None:
    events = [{"messageStart": {}}, *_tool_events(1, "t0", []), *_tool_events(2, "t1", ['{"a":', "1}"])]
    chunks = _run([*events, {"messageStop": {"stopReason": "tool_use"}}])
    lc_chunks = [
        AIMessageChunk(
            content="",
            tool_call_chunks=[
                {
                    "name": tc.get("function", {}).get("name"),
                    "args": tc["function"].get("arguments"),
                    "id": tc.get("id"),
                    "index": tc["index"],
                }
                for tc in c["choices"][0]["delta"].get("tool_calls", [])
            ],
        )
        for c in chunks
    ]
    message = functools.reduce(operator.add, lc_chunks)
    assert [(c["id"], c["args"]) for c in message.tool_calls] == [("t0", {}), ("t1", {"a": 1})]


def test_repeated_block_stop_does_not_duplicate_empty_arguments() -> None:
    events = [
        {"messageStart": {}},
        *_tool_events(0, "t0", []),
        {"contentBlockStop": {"contentBlockIndex": 0}},
    ]
    chunks = _run([*events, {"messageStop": {"stopReason": "tool_use"}}])
    args = [
        tc["function"]["arguments"] for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert args == ["", "{}"]


def test_role_chunk_is_sent_even_without_message_start() -> None:
    chunks = _run(
        [
            {"contentBlockDelta": {"delta": {"text": "hi"}, "contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
        ]
    )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:]] == ["hi", None]


def test_duplicate_message_stop_is_ignored() -> None:
    stop = {"messageStop": {"stopReason": "end_turn"}}
    chunks = _run([{"messageStart": {}}, stop, stop])
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "stop"]
