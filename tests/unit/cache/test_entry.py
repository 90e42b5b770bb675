"""CachedAnswer encoding, and assembling / replaying completions and streams."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from proxy.cache.entry import CachedAnswer, assemble_completion, replay_chunks, replay_completion
from translators.usage import Usage, openai_usage_block

USAGE = Usage(input_tokens=10, output_tokens=4, cache_read_tokens=2)
BASE = {"id": "chatcmpl-old", "object": "chat.completion.chunk", "created": 100, "model": "fast",
        "system_fingerprint": None}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}


TEXT_STREAM = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"}),
               chunk({}, "stop", gateway_metadata={"cost_usd": "1"})]
TOOL_STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                           "function": {"name": "get_time", "arguments": "{}"}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
    chunk({}, "tool_calls"),
]


def answer(completion: dict[str, Any], chunks: list[dict[str, Any]] | None = None) -> CachedAnswer:
    return CachedAnswer(completion=completion, chunks=chunks, usage=USAGE, cost_usd=Decimal("0.000123456789"),
                        deployment="bedrock/haiku", provider="aws-bedrock", created_at=1700000000.5)


def completion_of(text: str | None = "Hello", **message: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-old", "object": "chat.completion", "created": 100, "model": "fast",
            "system_fingerprint": None, "usage": openai_usage_block(USAGE),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None, **message},
                         "finish_reason": "stop", "logprobs": None}]}


def test_round_trip_keeps_everything_exactly() -> None:
    original = answer(completion_of(), TEXT_STREAM)
    assert CachedAnswer.decode(original.encode()) == original
    assert CachedAnswer.decode(original.encode()).cost_usd == Decimal("0.000123456789")  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", [b"", b"garbage", b"[]", b"null", b'{"v": 2}', b'{"v": true}', "\ud800".encode(
    "utf-8", "surrogatepass"), b'{"v": 1, "completion": {}}'])
def test_decode_of_garbage_is_none(raw: bytes) -> None:
    assert CachedAnswer.decode(raw) is None


@pytest.mark.parametrize(("field", "value"), [("cost_usd", "abc"), ("cost_usd", "NaN"), ("cost_usd", 1.5),
                                              ("usage", {"input_tokens": -1}), ("usage", {"output_tokens": "3"}),
                                              ("chunks", [1]), ("created_at", "now"), ("provider", None)])
def test_decode_of_wrong_shapes_is_none(field: str, value: Any) -> None:
    data = orjson.loads(answer(completion_of()).encode())
    data[field] = value
    assert CachedAnswer.decode(orjson.dumps(data)) is None


def test_assemble_text() -> None:
    completion = assemble_completion(TEXT_STREAM)
    assert completion["object"] == "chat.completion" and completion["id"] == "chatcmpl-old"
    assert completion["created"] == 100 and completion["model"] == "fast" and "gateway_metadata" not in completion
    assert completion["choices"] == [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                      "message": {"role": "assistant", "content": "Hello", "refusal": None}}]
    assert "usage" not in completion


def test_assemble_tool_calls_in_pieces() -> None:
    message = assemble_completion(TOOL_STREAM)["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert assemble_completion(TOOL_STREAM)["choices"][0]["finish_reason"] == "tool_calls"


def test_assemble_takes_usage_and_reasoning() -> None:
    usage = openai_usage_block(USAGE)
    stream = [chunk({"role": "assistant", "content": ""}, usage=None),
              chunk({"reasoning_content": "hm"}, usage=None),
              chunk({"thinking_blocks": [{"type": "thinking", "thinking": "hm", "signature": "s", "index": 0}]}),
              chunk({"content": "ok"}, usage=None), chunk({}, "stop", usage=None),
              {**BASE, "choices": [], "usage": usage}]
    completion = assemble_completion(stream)
    assert completion["usage"] == usage
    message = completion["choices"][0]["message"]
    assert message["reasoning_content"] == "hm" and message["content"] == "ok"
    assert message["thinking_blocks"] == [{"type": "thinking", "thinking": "hm", "signature": "s"}]


def test_replay_completion_rewrites_identity_and_copies() -> None:
    stored = answer(completion_of())
    reply = replay_completion(stored, completion_id="chatcmpl-new", created=200, model="alias")
    assert (reply["id"], reply["created"], reply["model"]) == ("chatcmpl-new", 200, "alias")
    assert reply["usage"] == openai_usage_block(USAGE)
    reply["choices"][0]["message"]["content"] = "changed"
    assert stored.completion["choices"][0]["message"]["content"] == "Hello"
    assert stored.completion["id"] == "chatcmpl-old"


def test_replay_completion_without_stored_usage_uses_the_answers() -> None:
    stored = answer(assemble_completion(TEXT_STREAM), TEXT_STREAM)
    assert replay_completion(stored, completion_id="c", created=1, model="m")["usage"] == openai_usage_block(USAGE)


def replay(stored: CachedAnswer, include_usage: bool) -> list[dict[str, Any]]:
    return replay_chunks(stored, completion_id="chatcmpl-new", created=200, model="alias", include_usage=include_usage)


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


@pytest.mark.parametrize("stored_chunks", [TEXT_STREAM, None], ids=["stored", "synthesised"])
def test_replay_stream_without_usage(stored_chunks: list[dict[str, Any]] | None) -> None:
    chunks = replay(answer(completion_of(), stored_chunks), include_usage=False)
    assert all((c["id"], c["created"], c["model"], c["object"]) == ("chatcmpl-new", 200, "alias",
                                                                   "chat.completion.chunk") for c in chunks)
    assert all("usage" not in c and "gateway_metadata" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert text_of(chunks) == "Hello" and chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("stored_chunks", [TEXT_STREAM, None], ids=["stored", "synthesised"])
def test_replay_stream_with_usage(stored_chunks: list[dict[str, Any]] | None) -> None:
    chunks = replay(answer(completion_of(), stored_chunks), include_usage=True)
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == openai_usage_block(USAGE)
    assert chunks[-1]["id"] == "chatcmpl-new"


def test_stored_usage_chunk_is_not_replayed_twice_or_when_not_asked() -> None:
    usage = openai_usage_block(USAGE)
    stream = [*[{**c, "usage": None} for c in TEXT_STREAM], {**BASE, "choices": [], "usage": usage}]
    stored = answer(assemble_completion(stream), stream)
    assert [c for c in replay(stored, include_usage=False) if "usage" in c or not c["choices"]] == []
    with_usage = replay(stored, include_usage=True)
    assert [c for c in with_usage if not c["choices"]] == [with_usage[-1]]


def test_synthesised_tool_calls_reassemble_to_the_same_message() -> None:
    original = assemble_completion(TOOL_STREAM)
    chunks = replay(answer(original), include_usage=False)
    assert assemble_completion(chunks)["choices"] == original["choices"]


def test_synthesised_stream_reassembles_to_the_stored_completion() -> None:
    stored = completion_of("Hi there", reasoning_content="think",
                           thinking_blocks=[{"type": "thinking", "thinking": "think", "signature": "sig"}])
    rebuilt = assemble_completion(replay(answer(stored), include_usage=True))
    assert rebuilt["choices"] == stored["choices"] and rebuilt["usage"] == stored["usage"]


def test_replay_does_not_alias_the_stored_chunks() -> None:
    stored = answer(assemble_completion(TOOL_STREAM), TOOL_STREAM)
    chunks = replay(stored, include_usage=False)
    chunks[1]["choices"][0]["delta"]["tool_calls"][0]["id"] = "mutated"
    assert TOOL_STREAM[1]["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_a"


@pytest.mark.parametrize("stored_chunks", [TOOL_STREAM, None], ids=["stored", "synthesised"])
def test_replies_are_valid_openai_objects(stored_chunks: list[dict[str, Any]] | None) -> None:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    stored = answer(assemble_completion(TOOL_STREAM), stored_chunks)
    ChatCompletion.model_validate(replay_completion(stored, completion_id="c", created=1, model="m"), strict=True)
    for item in replay(stored, include_usage=True):
        ChatCompletionChunk.model_validate(item, strict=True)
