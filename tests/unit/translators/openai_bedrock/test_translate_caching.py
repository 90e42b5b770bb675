"""Prompt caching (cache_control, prompt_caching) and file/document parts beyond the golden cases."""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
import pytest

from translators.openai_bedrock import TranslationError, openai_request_to_converse
from translators.openai_bedrock.caching import MAX_CACHE_POINTS
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.documents import MAX_DOCUMENT_BYTES, document_name

CACHING = ModelCapabilities(prompt_caching=True, documents=True)
EPH = {"type": "ephemeral"}
PDF = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 tiny").decode()


def _body(caps: ModelCapabilities = CACHING, **fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return openai_request_to_converse({"model": "m", **fields}, capabilities=caps).body


def _error(caps: ModelCapabilities = CACHING, **fields: Any) -> TranslationError:
    with pytest.raises(TranslationError) as info:
        _body(caps, **fields)
    return info.value


def _dict_types(node: Any) -> set[type]:
    if isinstance(node, dict):
        return {type(node)}.union(*(_dict_types(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_dict_types(v) for v in node))
    return set()


def test_cache_points_leave_as_plain_dicts_without_cache_control() -> None:
    body = _body(
        messages=[
            {"role": "system", "content": "S", "cache_control": EPH},
            {"role": "user", "content": [{"type": "text", "text": "Q", "cache_control": EPH}]},
        ],
        tools=[{"type": "function", "function": {"name": "f"}, "cache_control": EPH}],
        prompt_caching=True,
    )
    assert _dict_types(body) == {dict}  # no CachePoint subclass reaches botocore / orjson
    assert b"cache_control" not in orjson.dumps(body)
    assert orjson.dumps(body).count(b"cachePoint") == 3


@pytest.mark.parametrize(
    ("control", "param"),
    [
        ("ephemeral", "messages[0].content[0].cache_control"),
        ({"type": "ephemeral", "ttl": "24h"}, "messages[0].content[0].cache_control.ttl"),
        ({}, "messages[0].content[0].cache_control.type"),
    ],
)
def test_invalid_cache_control_names_the_param(control: Any, param: str) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": control}]}]
    assert _error(messages=messages).param == param
    # invalid input is invalid on every model, even where valid markers would be dropped
    assert _error(ModelCapabilities(), messages=messages).param == param


@pytest.mark.parametrize(
    ("value", "param"),
    [("yes", "prompt_caching"), ({"system": "on"}, "prompt_caching.system"), ({"ttl": "2h"}, "prompt_caching.ttl")],
)
def test_invalid_prompt_caching_names_the_param(value: Any, param: str) -> None:
    assert _error(prompt_caching=value).param == param


def test_prompt_caching_false_adds_nothing_anywhere() -> None:
    assert "cachePoint" not in str(_body(prompt_caching=False))
    assert "cachePoint" not in str(_body(ModelCapabilities(), prompt_caching=False))
    assert "cachePoint" not in str(_body(ModelCapabilities(), prompt_caching={"system": False}))


def test_exactly_four_cache_points_are_accepted() -> None:
    parts = [{"type": "text", "text": f"p{n}", "cache_control": EPH} for n in range(MAX_CACHE_POINTS)]
    body = _body(messages=[{"role": "user", "content": parts}])
    assert str(body).count("cachePoint") == MAX_CACHE_POINTS


def test_system_cache_point_moves_with_system_text_for_models_without_system() -> None:
    caps = ModelCapabilities(prompt_caching=True, system=False)
    body = _body(caps, messages=[{"role": "system", "content": "S", "cache_control": EPH},
                                 {"role": "user", "content": "Q"}])
    assert body["messages"][0]["content"] == [{"text": "S"}, {"cachePoint": {"type": "default"}}, {"text": "Q"}]


def test_cache_control_on_flattened_tool_turns_for_models_without_tools() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "R", "cache_control": EPH}]},
    ]
    body = _body(ModelCapabilities(prompt_caching=True, tools=False), messages=messages)
    assert body["messages"][-1]["content"] == [{"text": "[tool result c1]: R"}, {"cachePoint": {"type": "default"}}]


def test_document_over_bedrock_limit_is_400() -> None:
    data = base64.b64encode(b"\0" * (MAX_DOCUMENT_BYTES + 1)).decode()
    part = {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{data}", "filename": "big.pdf"}}
    err = _error(messages=[{"role": "user", "content": [part]}])
    assert err.param == "messages[0].content[0].file.file_data"
    assert "4.5 MB" in err.message


@pytest.mark.parametrize(
    ("file", "param"),
    [
        ({"file_data": "data:application/pdf;base64,%%%", "filename": "a.pdf"}, "file.file_data"),
        ({"file_data": "bm90IGEgZGF0YSB1cmw=", "filename": "noext"}, "file.file_data"),
        ({"file_data": "data:application/pdf,plain", "filename": "a.pdf"}, "file.file_data"),
        ({"file_data": PDF, "filename": 7}, "file.filename"),
        ({"filename": "a.pdf"}, "file.file_data"),
        ("not an object", "file"),
    ],
)
def test_invalid_file_parts_name_the_param(file: Any, param: str) -> None:
    err = _error(messages=[{"role": "user", "content": [{"type": "file", "file": file}]}])
    assert err.param == f"messages[0].content[0].{param}"


def test_file_parts_only_in_user_messages() -> None:
    for role in ("system", "tool"):
        messages: list[dict[str, Any]] = [{"role": role, "content": [{"type": "file", "file": {"file_data": PDF}}]}]
        if role == "tool":
            call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            messages = [{"role": "user", "content": "Q"}, {"role": "assistant", "tool_calls": [call]},
                        {**messages[0], "tool_call_id": "c1"}]
        err = _error(messages=[*messages, {"role": "user", "content": "Q"}])
        assert err.code == "unsupported_content" and err.param.endswith("content[0]")


def test_mime_without_known_type_falls_back_to_the_filename() -> None:
    part = {"type": "file", "file": {"file_data": "data:application/octet-stream;base64,YQ==", "filename": "x.docx"}}
    body = _body(messages=[{"role": "user", "content": [part, {"type": "text", "text": "Q"}]}])
    assert body["messages"][0]["content"][0]["document"]["format"] == "docx"


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("report.pdf", "report"),
        ("Q3  report\t(final) [v2].PDF", "Q3 report (final) [v2]"),
        ("résumé.pdf", "r-sum-"),
        (None, "document"),
        ("...", "document"),
        ("notes", "notes"),
    ],
)
def test_document_names_are_bedrock_safe(filename: str | None, name: str) -> None:
    assert document_name(filename) == name


def test_input_with_files_and_cache_markers_is_not_mutated() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": [{"type": "file", "file": {"file_data": PDF, "filename": "a.pdf"}},
                                         {"type": "file", "file": {"file_data": PDF, "filename": "a.pdf"}}],
             "cache_control": EPH},
        ],
        "prompt_caching": {"system": True, "messages": True},
    }
    before = copy.deepcopy(body)
    openai_request_to_converse(body, capabilities=CACHING)
    assert body == before
