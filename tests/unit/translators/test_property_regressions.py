"""The smallest body for each defect the property tests (test_translate_properties.py) found and the translators fix.

Each was a value forwarded to Bedrock that its service model refuses (a 400 with Bedrock's words, not ours), a 500
from orjson, or a 400 whose `param` named a field the client never sent.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.unit.translators.bedrock_shapes import converse_problems
from translators.anthropic_bedrock import (
    AnthropicCapabilities,
    anthropic_request_to_converse,
    anthropic_request_to_invoke,
)
from translators.openai_bedrock import TranslationError, openai_request_to_converse
from translators.openai_bedrock.capabilities import ModelCapabilities

CAPS = ModelCapabilities(reasoning=True, documents=True)
HI = {"role": "user", "content": "Hi"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
PNG = "iVBORw0KGgo="


def _openai(caps: ModelCapabilities = CAPS, **fields: Any) -> dict[str, Any]:
    request = openai_request_to_converse({"model": "m", "messages": [HI], **fields}, capabilities=caps)
    orjson.dumps(request.body)
    assert converse_problems(request.body, stream=request.stream) == []
    return request.body


def _openai_param(caps: ModelCapabilities = CAPS, **fields: Any) -> str | None:
    with pytest.raises(TranslationError) as err:
        _openai(caps, **fields)
    return err.value.param


def _anthropic(caps: ModelCapabilities = CAPS, **fields: Any) -> dict[str, Any]:
    body = {"model": "m", "max_tokens": 100, "messages": [HI], **fields}
    request = anthropic_request_to_converse(body, capabilities=caps)
    assert converse_problems(request.body, stream=request.stream) == []
    return request.body


def _anthropic_param(caps: ModelCapabilities = CAPS, **fields: Any) -> str | None:
    with pytest.raises(TranslationError) as err:
        _anthropic(caps, **fields)
    return err.value.param


def _assistant(**fields: Any) -> list[dict[str, Any]]:
    return [HI, {"role": "assistant", "content": "ok", **fields}, {"role": "user", "content": "more"}]


# 1. Values of the wrong type (or outside Bedrock's limits) were forwarded unchecked.

@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "description": 5}}]},
         "tools[0].function.description"),
        ({"functions": [{"name": "f", "description": 5}]}, "functions[0].description"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "description": 5}}},
         "response_format.json_schema.description"),
        ({"messages": _assistant(reasoning_content="why", reasoning_signature=5)}, "messages[1].reasoning_signature"),
        ({"messages": _assistant(reasoning_content=["why"], reasoning_signature="sig")},
         "messages[1].reasoning_content"),
        ({"messages": _assistant(thinking_blocks=[{"type": "redacted_thinking", "data": 5}])},
         "messages[1].thinking_blocks[0].data"),
        ({"guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1", "extra": 1}},
         "guardrailConfig.extra"),
        ({"guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": 1}}, "guardrailConfig.guardrailVersion"),
        ({"guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1", "trace": "on"}},
         "guardrailConfig.trace"),
        ({"performanceConfig": {"latency": "fast"}}, "performanceConfig.latency"),
        ({"performanceConfig": {"latency": "optimized", "tier": "x"}}, "performanceConfig.tier"),
        ({"requestMetadata": {"": "v"}}, "requestMetadata"),
        ({"requestMetadata": {"team": "a&b"}}, "requestMetadata"),
        ({"additionalModelResponseFieldPaths": ["/stop_sequence", ""]}, "additionalModelResponseFieldPaths[1]"),
        ({"max_tokens": 2**40}, "max_tokens"),
        ({"top_k": 2**64}, "top_k"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2**64}}, "thinking.budget_tokens"),
    ],
)
def test_openai_values_bedrock_refuses_are_a_400_naming_them(fields: dict[str, Any], param: str) -> None:
    assert _openai_param(CAPS, **fields) == param


def test_openai_valid_extensions_still_pass() -> None:
    body = _openai(
        guardrailConfig={"guardrailIdentifier": "g", "guardrailVersion": "DRAFT", "trace": "enabled_full"},
        performanceConfig={"latency": "standard"},
        requestMetadata={"team": "search", "cost-center": "a/b:c"},
    )
    assert body["performanceConfig"] == {"latency": "standard"}
    assert body["requestMetadata"] == {"team": "search", "cost-center": "a/b:c"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"name": "f", "description": 5}]}, "tools[0].description"),
        ({"max_tokens": 2**64}, "max_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2**64}}, "thinking.budget_tokens"),
        ({"top_k": 2**64}, "top_k"),
    ],
)
def test_anthropic_values_bedrock_refuses_are_a_400_naming_them(fields: dict[str, Any], param: str) -> None:
    assert _anthropic_param(CAPS, **fields) == param


def test_tool_use_ids_from_other_providers_become_bedrock_safe_and_stay_paired() -> None:
    call = {**CALL, "id": "call 1/a"}
    body = _openai(messages=[HI, {"role": "assistant", "content": None, "tool_calls": [call]},
                             {"role": "tool", "tool_call_id": "call 1/a", "content": "r"}])
    use, result = body["messages"][1]["content"][0]["toolUse"], body["messages"][2]["content"][0]["toolResult"]
    assert use["toolUseId"] == result["toolUseId"] != "call 1/a"
    assert _openai(messages=[HI, {"role": "assistant", "content": None, "tool_calls": [CALL]},
                             {"role": "tool", "tool_call_id": "call_1", "content": "r"}],
                   )["messages"][1]["content"][0]["toolUse"]["toolUseId"] == "call_1"  # Bedrock's own ids unchanged


# 2. A tool call's arguments JSON holding what orjson cannot write was a 500 when the body was serialised.

@pytest.mark.parametrize("arguments", ['{"n": 123456789012345678901234567890}', '{"s": "\\ud800"}', '{"x": NaN}'])
def test_tool_call_arguments_orjson_cannot_write_are_a_400(arguments: str) -> None:
    call = {**CALL, "function": {"name": "f", "arguments": arguments}}
    messages = [HI, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "r"}]
    assert _openai_param(messages=messages) == "messages[1].tool_calls[0].function.arguments"


# 3. Redacted thinking whose data is not base64 went to Bedrock's blob field.

def test_openai_redacted_thinking_must_be_base64() -> None:
    messages = _assistant(thinking_blocks=[{"type": "redacted_thinking", "data": "@@@"}])
    assert _openai_param(messages=messages) == "messages[1].thinking_blocks[0].data"
    kept = _openai(messages=_assistant(thinking_blocks=[{"type": "redacted_thinking", "data": "AAAA"}]))
    assert kept["messages"][1]["content"][0] == {"reasoningContent": {"redactedContent": "AAAA"}}


def test_anthropic_redacted_thinking_must_be_base64() -> None:
    turn = {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "@@@"}]}
    assert _anthropic_param(messages=[HI, turn, HI]) == "messages[1].content[0].data"


# 4. Errors named a field the client did not send.

def test_legacy_functions_are_named_as_sent() -> None:
    functions = [{"name": "a"}, {"name": ""}]
    assert _openai_param(functions=functions) == "functions[1].name"
    assert _openai_param(ModelCapabilities(tools=False), functions=[{"name": "a"}]) == "functions"
    assert _openai_param(functions=[{"name": "a"}], function_call={"name": "b"}) == "function_call"


def test_max_completion_tokens_is_named_when_it_sets_the_limit() -> None:
    assert _openai_param(reasoning_effort="low", max_completion_tokens=1000) == "max_completion_tokens"
    assert _openai_param(reasoning_effort="low", max_tokens=1000) == "max_tokens"


def test_anthropic_errors_name_the_clients_message_index_after_lifting_system_messages() -> None:
    bad_image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "@@@"}}
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": [bad_image]}]
    assert _anthropic_param(messages=messages) == "messages[1].content[0].source.data"
    merged = [HI, {"role": "system", "content": "rules"}, {"role": "user", "content": [{"type": "text", "text": 5}]}]
    assert _anthropic_param(messages=merged) == "messages[2].content[0].text"
    lifted = [{"role": "system", "content": [{"type": "text", "text": 5}]}, HI]
    assert _anthropic_param(messages=lifted) == "messages[0].content[0].text"


def test_output_format_is_named_as_sent() -> None:
    fmt = {"type": "json_schema", "schema": {"type": "object"}}
    assert _anthropic_param(ModelCapabilities(), output_format=fmt) == "output_format"
    assert _anthropic_param(ModelCapabilities(), output_config={"format": fmt}) == "output_config.format"
    with pytest.raises(TranslationError) as err:
        anthropic_request_to_invoke({"model": "m", "max_tokens": 10, "messages": [HI], "output_format": fmt},
                                    beta_header=None, allowed_betas=frozenset(), capabilities=AnthropicCapabilities())
    assert err.value.param == "output_format"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": "xml"}, "response_format"),
        ({"messages": [{"role": "user", "content": [None]}]}, "messages[0].content[0]"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": 5}}]}, "tools[0].function.parameters"),
    ],
)
def test_openai_errors_name_the_field_that_is_wrong(fields: dict[str, Any], param: str) -> None:
    assert _openai_param(**fields) == param


# 5. OpenAI's temperature runs to 2, Converse's to 1.

@pytest.mark.parametrize(("sent", "forwarded"), [(0.5, 0.5), (1, 1), (1.5, 1.0), (2, 1.0)])
def test_temperature_above_bedrocks_maximum_is_sent_as_its_maximum(sent: float, forwarded: float) -> None:
    assert _openai(temperature=sent)["inferenceConfig"]["temperature"] == forwarded


def test_temperature_outside_openais_range_is_still_a_400() -> None:
    assert _openai_param(temperature=2.5) == "temperature"


# 6. An empty data URL became an empty bytes block.

@pytest.mark.parametrize("url", ["data:image/png;base64,", "data:image/png;base64, \n"])
def test_empty_data_url_image_is_a_400_naming_it(url: str) -> None:
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    assert _openai_param(messages=messages) == "messages[0].content[0].image_url"


def test_empty_file_data_and_anthropic_image_data_are_a_400() -> None:
    part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,", "filename": "a.pdf"}}
    assert _openai_param(messages=[{"role": "user", "content": [part]}]) == "messages[0].content[0].file.file_data"
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": " "}}
    assert _anthropic_param(messages=[{"role": "user", "content": [image]}]) == "messages[0].content[0].source.data"
    assert _openai(messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])["messages"]
