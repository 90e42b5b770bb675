"""Properties of the pure translators, for any JSON-shaped client body and any well-formed Bedrock answer.

Requests: a TranslationError whose `param` names a field the client sent (OpenAI's `a.b[0].c` style), or a body
that orjson serialises and Bedrock's own service model accepts (bedrock_shapes.py), the client's body untouched.
Responses and streams: no exception but the documented StreamIncomplete, and output the SDKs' models accept.

Runs derandomized, without shrinking, in about 20 s; TRANSLATOR_PROPERTIES_SHRINK=1 hunts with fresh random
examples, ten times as many, and shrinks what fails (minutes).
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import anthropic.types
import openai.types.chat
import orjson
import pydantic
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from tests.unit.translators import strategies as s
from tests.unit.translators.bedrock_shapes import JSON_VALUES, converse_problems, operation, shape_values
from translators.anthropic_bedrock import (
    AnthropicCapabilities,
    AnthropicConverseRequest,
    ConverseToAnthropicStream,
    InvokeStreamReader,
    anthropic_request_to_converse,
    anthropic_request_to_invoke,
    converse_response_to_anthropic,
    count_tokens_request,
)
from translators.anthropic_bedrock.invoke import INVOKE_FIELDS
from translators.openai_bedrock import (
    ConverseRequest,
    ConverseStreamTranslator,
    StreamIncomplete,
    TranslationError,
    converse_response_to_openai,
    openai_request_to_converse,
)
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.mappings import JSON_TOOL_NAME

HUNT = os.environ.get("TRANSLATOR_PROPERTIES_SHRINK") == "1"
_BASE = settings(
    derandomize=not HUNT,
    database=None,  # nothing written under the repository; a failure prints its reproduce blob instead
    deadline=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.generate, *([Phase.target, Phase.shrink] if HUNT else [])],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def properties(examples: int) -> settings:
    """The shared settings with `examples` examples (ten times as many when hunting)."""
    return settings(_BASE, max_examples=examples * (10 if HUNT else 1))


# Fields a translator may name although the client left them out: required ones, reported as missing.
OPENAI_REQUIRED = frozenset({"messages", "role", "content", "tool_call_id", "image_url", "url", "file", "file_data",
                             "type", "function", "name", "id"})
ANTHROPIC_REQUIRED = frozenset({"model", "max_tokens", "messages", "role", "content", "type", "source", "data",
                                "media_type", "tool_use_id", "id", "name"})
_STEP = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")
_OPENAI_STYLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sent_field_problem(body: Any, param: str | None, required: frozenset[str]) -> str | None:
    """Why `param` does not name a field of `body` (None when it does, or names a missing required field)."""
    if param is None:
        return None if not isinstance(body, dict) else "a TranslationError without a param"
    steps = [(int(index), None) if index else (None, key) for index, key in _STEP.findall(param)]
    node: Any = body
    for n, (index, key) in enumerate(steps):
        last = n == len(steps) - 1
        if index is not None and isinstance(node, list) and index < len(node):
            node = node[index]
        elif key is not None and isinstance(node, dict) and key in node:
            node = node[key]
        elif last and key in required:  # a required field left out of (or not an object at) what was sent
            return None
        else:
            return f"{param!r}: the client sent nothing at step {n}"
    plain = all(_PLAIN_KEY.fullmatch(key) for _, key in steps if key is not None)
    if plain and not _OPENAI_STYLE.fullmatch(param):
        return f"{param!r} is not in OpenAI's param style"
    return None


def assert_names_a_sent_field(exc: TranslationError, body: Any, required: frozenset[str]) -> None:
    problem = sent_field_problem(body, exc.param, required)
    assert problem is None, f"{problem} ({exc!r})"


def _serialisable(value: Any) -> None:
    orjson.dumps(value)  # raises TypeError for >64-bit ints, lone surrogates, non-str keys


def _orjson_can_write(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


@properties(350)
@given(s.openai_chat_bodies(), s.capabilities(), st.booleans())
def test_openai_request_is_an_error_naming_a_sent_field_or_a_valid_converse_body(
    body: dict[str, Any], caps: ModelCapabilities, drop: bool
) -> None:
    sent = copy.deepcopy(body)
    note(sent)  # repr'd only for the failure report (hypothesis shows composite arguments blank)
    try:
        request = openai_request_to_converse(body, capabilities=caps, drop_unsupported=drop)
    except TranslationError as exc:
        assert_names_a_sent_field(exc, sent, OPENAI_REQUIRED)
        return
    finally:
        assert body == sent, "the client's body was changed"
    _serialisable(request.body)
    assert converse_problems(request.body, stream=request.stream) == []


@properties(300)
@given(s.anthropic_bodies(), s.capabilities())
def test_anthropic_converse_request_is_an_error_naming_a_sent_field_or_a_valid_converse_body(
    body: dict[str, Any], caps: ModelCapabilities
) -> None:
    sent = copy.deepcopy(body)
    note(sent)  # repr'd only for the failure report (hypothesis shows composite arguments blank)
    try:
        request = anthropic_request_to_converse(body, capabilities=caps)
    except TranslationError as exc:
        assert_names_a_sent_field(exc, sent, ANTHROPIC_REQUIRED)
        return
    finally:
        assert body == sent, "the client's body was changed"
    _serialisable(request.body)
    assert converse_problems(request.body, stream=request.stream) == []


@properties(200)
@given(s.anthropic_bodies(), s.anthropic_capabilities(), st.sampled_from([None, "beta-a,beta-b", ""]))
def test_anthropic_invoke_request_is_an_error_naming_a_sent_field_or_a_serialisable_claude_body(
    body: dict[str, Any], caps: AnthropicCapabilities, beta_header: str | None
) -> None:
    sent = copy.deepcopy(body)
    note(sent)  # repr'd only for the failure report (hypothesis shows composite arguments blank)
    try:
        request = anthropic_request_to_invoke(body, beta_header=beta_header, allowed_betas=frozenset({"beta-a"}),
                                              capabilities=caps)
    except TranslationError as exc:
        assert_names_a_sent_field(exc, sent, ANTHROPIC_REQUIRED)
        return
    finally:
        assert body == sent, "the client's body was changed"
    assert set(request.body) <= INVOKE_FIELDS
    assert 1 <= request.body["max_tokens"] < 2**31
    assert all(m["role"] in ("user", "assistant") for m in request.body["messages"])
    if _orjson_can_write(sent):  # the rest of the body passes through as sent: Bedrock validates it
        _serialisable(request.body)
        tokens = count_tokens_request(body, beta_header=beta_header, allowed_betas=frozenset(), capabilities=caps)
        assert isinstance(tokens["input"]["invokeModel"]["body"], str)


# --- responses and streams --------------------------------------------------------------------------------------

_NAMES = st.sampled_from(["get_weather", "bad_name_1a2b3c4d", JSON_TOOL_NAME, "unknown"])
_OVERRIDES = {"contentBlockIndex": st.integers(0, 3), "name": _NAMES, "toolUseId": s.IDS}
CONVERSE_RESPONSES = shape_values(operation("Converse").output_shape, _OVERRIDES)
STREAM_EVENTS = shape_values(operation("ConverseStream").output_shape.members["stream"], _OVERRIDES)
OPENAI_REQUESTS = st.builds(
    ConverseRequest, body=st.just({}), stream=st.just(True), include_usage=st.booleans(),
    tool_names=st.just({"bad_name_1a2b3c4d": "bad name"}), json_tool=st.sampled_from([None, JSON_TOOL_NAME]),
)
ANTHROPIC_REQUESTS = st.builds(
    AnthropicConverseRequest, body=st.just({}), model=st.just("claude-test"), stream=st.just(True),
    max_tokens=st.just(100), tool_names=st.just({"bad_name_1a2b3c4d": "bad name"}),
    stop_sequences=st.lists(s.TEXT, max_size=2).map(tuple),
)
_ANTHROPIC_EVENT = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)


@properties(150)
@given(CONVERSE_RESPONSES, OPENAI_REQUESTS, ANTHROPIC_REQUESTS)
def test_converse_responses_translate_to_what_the_sdks_accept(
    resp: dict[str, Any], openai_request: ConverseRequest, anthropic_request: AnthropicConverseRequest
) -> None:
    completion = converse_response_to_openai(resp, request=openai_request, model="m", completion_id="c", created=1)
    _serialisable(completion)
    openai.types.chat.ChatCompletion.model_validate(completion)
    message = converse_response_to_anthropic(resp, request=anthropic_request, model="m", message_id="msg_1")
    _serialisable(message)
    anthropic.types.Message.model_validate(message)


def _feed_all(translator: ConverseStreamTranslator | ConverseToAnthropicStream, events: list[Any]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        out += translator.feed(event)
    try:
        out += translator.finish()
    except StreamIncomplete:
        assert not any("messageStop" in event for event in events)
    return out


@properties(150)
@given(st.lists(STREAM_EVENTS, max_size=12), OPENAI_REQUESTS)
def test_any_converse_event_sequence_becomes_valid_openai_chunks(
    events: list[dict[str, Any]], request: ConverseRequest
) -> None:
    chunks = _feed_all(ConverseStreamTranslator(request, model="m", completion_id="c", created=1), events)
    for chunk in chunks:
        _serialisable(chunk)
        openai.types.chat.ChatCompletionChunk.model_validate(chunk)


@properties(150)
@given(st.lists(STREAM_EVENTS, max_size=12), ANTHROPIC_REQUESTS)
def test_any_converse_event_sequence_becomes_valid_anthropic_events(
    events: list[dict[str, Any]], request: AnthropicConverseRequest
) -> None:
    out = _feed_all(ConverseToAnthropicStream(request, model="m", message_id="msg_1"), events)
    for kind, data in out:
        _serialisable(data)
        assert _ANTHROPIC_EVENT.validate_python(data).type == kind


@properties(150)
@given(st.lists(st.one_of(st.binary(max_size=20), JSON_VALUES.map(orjson.dumps)), max_size=6))
def test_invoke_stream_reader_raises_only_stream_incomplete(chunks: list[bytes]) -> None:
    reader = InvokeStreamReader()
    try:
        for chunk in chunks:
            kind, data = reader.feed(chunk)
            assert isinstance(kind, str) and isinstance(data, bytes)
        reader.finish()
    except StreamIncomplete:
        pass
    assert reader.usage is None or reader.usage.total_tokens >= 0


@pytest.mark.parametrize("param", ["messages[0].content[1].image_url", "tools[0].function.description"])
def test_sent_field_check_accepts_paths_into_the_body(param: str) -> None:
    body = {"messages": [{"content": [{}, {"image_url": "x"}]}], "tools": [{"function": {"description": 5}}]}
    assert sent_field_problem(body, param, OPENAI_REQUIRED) is None


@pytest.mark.parametrize("param", ["tools[1]", "max_tokens", "messages[3].content", "output_config.format"])
def test_sent_field_check_refuses_fields_the_client_did_not_send(param: str) -> None:
    body = {"functions": [{}, {}], "max_completion_tokens": 5, "messages": [{}], "output_format": {}}
    assert sent_field_problem(body, param, frozenset({"content"})) is not None
