"""Request translation rules beyond the golden cases: parameter tables, validation, purity."""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path
from typing import Any

import pytest

from translators.openai_bedrock import TranslationError, openai_request_to_converse, openai_usage
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.mappings import MAX_IMAGE_BYTES, safe_tool_name

CAPS = ModelCapabilities()
HI = [{"role": "user", "content": "Hi"}]


def _translate(caps: ModelCapabilities = CAPS, drop: bool = False, **fields: Any) -> dict[str, Any]:
    return openai_request_to_converse(
        {"model": "m", "messages": HI, **fields}, capabilities=caps, drop_unsupported=drop
    ).body


def _error(caps: ModelCapabilities = CAPS, **fields: Any) -> TranslationError:
    with pytest.raises(TranslationError) as info:
        _translate(caps, **fields)
    return info.value


UNSUPPORTED = {
    "n": 2,
    "logprobs": True,
    "top_logprobs": 3,
    "logit_bias": {"1": 5},
    "frequency_penalty": 0.1,
    "presence_penalty": -0.5,
    "audio": {"voice": "alloy"},
    "modalities": ["text", "audio"],
    "prediction": {"type": "content", "content": "x"},
    "web_search_options": {},
    "verbosity": "low",
}


@pytest.mark.parametrize(("param", "value"), UNSUPPORTED.items())
def test_unsupported_parameter_is_400_or_dropped(param: str, value: Any) -> None:
    err = _error(**{param: value})
    assert (err.param, err.code) == (param, "unsupported_parameter")
    assert _translate(drop=True, **{param: value}) == {
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}]
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"top_p": 1.5}, "top_p"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_completion_tokens": -1}, "max_completion_tokens"),
        ({"stop": [1, 2]}, "stop"),
        ({"stream_options": "yes"}, "stream_options"),
        ({"requestMetadata": {"a": 1}}, "requestMetadata"),
        ({"additionalModelRequestFields": []}, "additionalModelRequestFields"),
        ({"additionalModelResponseFieldPaths": "/x"}, "additionalModelResponseFieldPaths"),
        ({"guardrailConfig": {"guardrailIdentifier": "g"}}, "guardrailConfig"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "thinking"),
        ({"top_k": -1}, "top_k"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": [{"type": "function", "function": {"name": ""}}]}, "tools[0].function.name"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"promptVariables": {}}, "promptVariables"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "system", "content": "only system"}]}, "messages"),
        ({"messages": [{"content": "no role"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({"messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}]}, "messages[0].tool_call_id"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]},
            "messages[0].content[0]",
        ),
    ],
)
def test_invalid_input_names_the_param(fields: dict[str, Any], param: str) -> None:
    assert _error(**fields).param == param


def test_reasoning_effort_on_reasoning_model_and_invalid_value() -> None:
    caps = ModelCapabilities(reasoning=True)
    assert _error(caps, reasoning_effort="extreme").param == "reasoning_effort"
    assert _error(caps, reasoning_effort="low", max_tokens=1000).param == "max_tokens"


def test_image_over_bedrock_limit_is_400() -> None:
    data = base64.b64encode(b"\0" * (MAX_IMAGE_BYTES + 1)).decode()
    part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}
    err = _error(messages=[{"role": "user", "content": [part]}])
    assert err.param == "messages[0].content[0].image_url"
    assert "3.75 MB" in err.message


def test_tool_result_must_follow_its_call_not_precede_it() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "x"},
        {"role": "tool", "tool_call_id": "c1", "content": "early"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    assert _error(messages=messages).param == "messages[1].tool_call_id"


def test_duplicate_sanitised_tool_names_are_rejected() -> None:
    tools = [
        {"type": "function", "function": {"name": "a.b"}},
        {"type": "function", "function": {"name": "a.b"}},
    ]
    assert _error(tools=tools).param == "tools[1].function.name"


def test_pitfalls_12_safe_names_are_valid_and_distinct() -> None:
    names = ["a" * 80, "a" * 81, "ns:tool", "ns/tool", "ns.tool", "ok_name-1"]
    safe = [safe_tool_name(n) for n in names]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", s) for s in safe)
    assert len(set(safe)) == len(safe)
    assert safe_tool_name("ok_name-1") == "ok_name-1"


def test_input_body_is_not_mutated() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure  "}],
        "reasoning_effort": "high",
        "max_tokens": 2000,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "additionalModelRequestFields": {"k": 1},
        "stream": True,
        "guardrailConfig": {
            "guardrailIdentifier": "g",
            "guardrailVersion": "1",
            "streamProcessingMode": "sync",
        },
    }
    before = copy.deepcopy(body)
    openai_request_to_converse(body, capabilities=ModelCapabilities(reasoning=True))
    assert body == before


def test_json_schema_with_thinking_is_not_forced() -> None:
    """Claude refuses a forced toolChoice while thinking: the JSON tool is asked for by instruction."""
    req = openai_request_to_converse(
        {"model": "m", "messages": HI, "reasoning_effort": "low", "response_format": {"type": "json_object"}},
        capabilities=ModelCapabilities(reasoning=True),
    )
    assert req.body["toolConfig"]["toolChoice"] == {"auto": {}}
    assert "json_response" in req.body["system"][-1]["text"]


def test_pitfalls_35_openai_usage_buckets() -> None:
    usage = openai_usage(
        {"inputTokens": 10, "outputTokens": 4, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 50}
    )
    assert usage == {
        "prompt_tokens": 160,
        "completion_tokens": 4,
        "total_tokens": 164,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 50},
    }


def test_translators_are_pure() -> None:
    """No I/O, clock, randomness, env or logging inside translators/."""
    forbidden = re.compile(
        r"^\s*(import|from)\s+(os|logging|time|random|datetime|uuid|socket|asyncio)\b", re.M
    )
    package = Path(__file__).resolve().parents[4] / "translators"
    modules = list(package.rglob("*.py"))  # every subpackage (one per API pair), not just the top level
    assert len(modules) > 20 and any(p.parent.name == "openai_bedrock" for p in modules)
    offenders = [str(p.relative_to(package)) for p in modules if forbidden.search(p.read_text())]
    assert offenders == []


def test_streaming_tools_capability_is_enforced() -> None:
    """Bedrock lists streaming tool use apart from tool use: a model without it gets a 400, not a raw error."""
    caps = ModelCapabilities(streaming_tools=False)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": tools}
    assert openai_request_to_converse(body, capabilities=caps).body["toolConfig"]  # plain calls keep tools
    with pytest.raises(TranslationError) as err:
        openai_request_to_converse({**body, "stream": True}, capabilities=caps)
    assert err.value.param == "stream" and "stream=false" in err.value.message
    no_tools = openai_request_to_converse({**body, "tools": None, "stream": True}, capabilities=caps)
    assert "toolConfig" not in no_tools.body


@pytest.mark.parametrize(("field", "value"), [("tool_choice", 5), ("seed", "x"), ("user", 5), ("seed", True),
                                              ("parallel_tool_calls", "yes"), ("metadata", [1])])
def test_ignored_fields_of_the_wrong_type_are_400s_like_openai(field: str, value: object) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], field: value}
    with pytest.raises(TranslationError) as err:
        openai_request_to_converse(body, capabilities=CAPS)
    assert err.value.param == field


def test_ignored_fields_of_the_right_type_are_still_ignored() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 7, "user": "u-1",
            "parallel_tool_calls": False, "metadata": {"a": "b"}, "tool_choice": "auto"}
    assert "toolConfig" not in openai_request_to_converse(body, capabilities=CAPS).body
