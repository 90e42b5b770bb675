"""Golden cases (tests/golden_anthropic/): requests to both upstreams, Converse answers and streams back to
Anthropic's shapes, and the InvokeModel stream passed through. `--update-golden` rewrites the expected files.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.unit.translators.anthropic_bedrock.anthropic_golden import (
    MESSAGE_ID,
    MODEL,
    cases,
    converse,
    converse_events,
    converse_json,
    error_json,
    invoke,
    invoke_json,
    invoke_stream,
    load,
    wants,
    write,
)
from translators.anthropic_bedrock import TranslationError, converse_response_to_anthropic
from translators.anthropic_bedrock.invoke_stream import METRICS_KEY


def _check(case: str, name: str, actual: Any, update: bool) -> None:
    if update:
        write(case, name, actual)
    assert actual == load(case, name)


@pytest.mark.parametrize("case", [c for c in cases() if wants(c, "invoke")])
def test_invoke_request(case: str, update_golden: bool) -> None:
    body = load(case, "request.json")
    before = copy.deepcopy(body)
    try:
        actual, name = invoke_json(invoke(case)), "invoke_request.json"
    except TranslationError as err:
        actual, name = error_json(err), "invoke_error.json"
    _check(case, name, actual, update_golden)
    assert body == before  # the client's body is never mutated


@pytest.mark.parametrize("case", [c for c in cases() if wants(c, "converse")])
def test_converse_request(case: str, update_golden: bool) -> None:
    try:
        actual, name = converse_json(converse(case)), "converse_request.json"
    except TranslationError as err:
        actual, name = error_json(err), "converse_error.json"
    _check(case, name, actual, update_golden)


def _response(case: str) -> dict[str, Any]:
    return converse_response_to_anthropic(
        load(case, "converse_response.json"), request=converse(case), model=MODEL, message_id=MESSAGE_ID
    )


@pytest.mark.parametrize("case", cases("converse_response.json"))
def test_converse_response(case: str, update_golden: bool) -> None:
    message = _response(case)
    assert_message_shape(message)
    _check(case, "anthropic_response.json", message, update_golden)


@pytest.mark.parametrize("case", cases("converse_stream.jsonl"))
def test_converse_stream(case: str, update_golden: bool) -> None:
    events = converse_events(case)
    assert_event_order([e for e in events if "event" in e])
    _check(case, "anthropic_events.jsonl", events, update_golden)


@pytest.mark.parametrize("case", sorted(set(cases("converse_response.json")) & set(cases("converse_stream.jsonl"))))
def test_stream_matches_response(case: str) -> None:
    """The same answer streamed and not streamed gives the same message (as an SDK accumulates it)."""
    assert accumulate([e for e in converse_events(case) if "event" in e]) == _response(case)


@pytest.mark.parametrize("case", cases("invoke_stream.jsonl"))
def test_invoke_stream(case: str, update_golden: bool) -> None:
    result, pairs = invoke_stream(case)
    for raw, sent in pairs:
        if METRICS_KEY.encode() in raw:  # only the invocationMetrics event is re-serialised, without that key
            parsed = json.loads(raw)
            del parsed[METRICS_KEY]
            assert json.loads(sent) == parsed
        else:
            assert sent is raw  # every other event: the upstream's bytes, not a copy
    _check(case, "invoke_stream_result.json", result, update_golden)


def assert_message_shape(message: dict[str, Any]) -> None:
    """The fields an Anthropic Message has (the SDKs' required ones), with the values they may take."""
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["stop_reason"] in ("end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal")
    assert set(message["usage"]) >= {"input_tokens", "output_tokens"}
    for block in message["content"]:
        required = {"text": {"text"}, "tool_use": {"id", "name", "input"}, "thinking": {"thinking", "signature"},
                    "redacted_thinking": {"data"}}[block["type"]]
        assert set(block) - {"type"} == required


def assert_event_order(events: list[dict[str, Any]]) -> None:
    """message_start first, blocks one at a time with indexes 0, 1, ..., message_delta then message_stop last."""
    kinds = [e["event"] for e in events]
    assert all(e["data"]["type"] == e["event"] for e in events)
    if not kinds:
        return
    assert kinds[0] == "message_start"
    open_index, next_index = None, 0
    for event in events[1:]:
        kind, data = event["event"], event["data"]
        if kind == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif kind in ("content_block_delta", "content_block_stop"):
            assert data["index"] == open_index
            open_index = None if kind == "content_block_stop" else open_index
        else:
            assert open_index is None
    if "message_stop" in kinds:
        assert kinds[-2:] == ["message_delta", "message_stop"]


def accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A message from stream events, as anthropic-sdk-python's accumulate_event builds it."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for event in events:
        kind, data = event["event"], event["data"]
        if kind == "message_start":
            message = copy.deepcopy(data["message"])
        elif kind == "content_block_start":
            message["content"].append(copy.deepcopy(data["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
        elif kind == "content_block_stop" and partial.get(data["index"]):
            message["content"][data["index"]]["input"] = json.loads(partial[data["index"]])
        elif kind == "message_delta":
            message["stop_reason"] = data["delta"]["stop_reason"]
            message["stop_sequence"] = data["delta"]["stop_sequence"]
            message["usage"].update({k: v for k, v in data["usage"].items() if v is not None})
    return message
