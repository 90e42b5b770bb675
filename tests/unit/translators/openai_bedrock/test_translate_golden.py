"""Golden cases: request, response and stream translation against reviewed expected files.

Every produced completion and chunk is validated with the openai SDK's own models.
"""

from __future__ import annotations

from typing import Any

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.unit.translators.openai_bedrock.translator_golden import (
    COMPLETION_ID,
    CREATED,
    MODEL,
    cases,
    error_as_json,
    load,
    request_as_json,
    translate,
    write,
)
from translators.openai_bedrock import (
    ConverseStreamTranslator,
    StreamIncomplete,
    TranslationError,
    converse_response_to_openai,
)


def _check(case: str, name: str, actual: Any, update: bool) -> None:
    if update:
        write(case, name, actual)
    assert actual == load(case, name)


@pytest.mark.parametrize("case", cases())
def test_request(case: str, update_golden: bool) -> None:
    try:
        actual, name = request_as_json(translate(case)), "converse_request.json"
    except TranslationError as err:
        actual, name = error_as_json(err), "error.json"
    _check(case, name, actual, update_golden)


def _response(case: str) -> dict[str, Any]:
    resp = load(case, "converse_response.json")
    return converse_response_to_openai(
        resp, request=translate(case), model=MODEL, completion_id=COMPLETION_ID, created=CREATED
    )


def _chunks(case: str) -> list[dict[str, Any]]:
    translator = ConverseStreamTranslator(
        translate(case), model=MODEL, completion_id=COMPLETION_ID, created=CREATED
    )
    chunks: list[dict[str, Any]] = []
    for event in load(case, "converse_stream.jsonl"):
        chunks += translator.feed(event)  # one event at a time, as the proxy feeds them
    try:
        chunks += translator.finish()
    except StreamIncomplete as err:
        chunks.append(error_as_json(err))
    return chunks


@pytest.mark.parametrize("case", cases("converse_response.json"))
def test_response(case: str, update_golden: bool) -> None:
    completion = _response(case)
    ChatCompletion.model_validate(completion)
    _check(case, "openai_response.json", completion, update_golden)


@pytest.mark.parametrize("case", cases("converse_stream.jsonl"))
def test_stream(case: str, update_golden: bool) -> None:
    chunks = _chunks(case)
    for chunk in chunks:
        if "error" not in chunk:
            ChatCompletionChunk.model_validate(chunk)
    _check(case, "openai_chunks.jsonl", chunks, update_golden)


def _accumulate(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What the openai SDK's own stream accumulator makes of our chunks (PITFALLS #1, #2, #30)."""
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    choice = state.current_completion_snapshot.choices[0]  # the snapshot skips length/filter raises
    calls = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
        for c in choice.message.tool_calls or []
    ]
    return {
        "content": choice.message.content or None,
        "tool_calls": calls,
        "finish_reason": choice.finish_reason,
    }


def _summary(completion: dict[str, Any]) -> dict[str, Any]:
    choice = completion["choices"][0]
    calls = [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in choice["message"].get("tool_calls") or []
    ]
    return {
        "content": choice["message"]["content"],
        "tool_calls": calls,
        "finish_reason": choice["finish_reason"],
    }


def _reasoning(chunks: list[dict[str, Any]]) -> str | None:
    text = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"])
    return text or None


@pytest.mark.parametrize(
    "case", sorted(set(cases("converse_response.json")) & set(cases("converse_stream.jsonl")))
)
def test_stream_matches_non_stream(case: str) -> None:
    """PITFALLS #30: the same content streamed and not streamed gives the same message."""
    chunks = _chunks(case)
    completion = _response(case)
    assert _accumulate(chunks) == _summary(completion)
    assert _reasoning(chunks) == completion["choices"][0]["message"].get("reasoning_content")
    usage = [c["usage"] for c in chunks if not c["choices"]]
    if usage:
        assert usage == [completion["usage"]]
