"""The emulator's pure parts: directives, generated tool input, validation, usage arithmetic."""

from __future__ import annotations

import pytest

from bedrock_emulator.directives import DirectiveError, parse_directives, strip_directives
from bedrock_emulator.events import split_in, stream_events
from bedrock_emulator.reply import build_reply, schema_example
from bedrock_emulator.validation import RequestInvalid, validate_request


def test_directives_parse() -> None:
    found = parse_directives(
        "EMULATOR:error=ThrottlingException EMULATOR:stream_error_after=2:throttlingException\n"
        "EMULATOR:usage=0,0 EMULATOR:parallel_tools=2 EMULATOR:chunk_delay_ms=5\n"
        "EMULATOR:reply=hi EMULATOR:x=1"
    )
    assert found.error == ("ThrottlingException", 429)
    assert found.stream_error_after == (2, "throttlingException")
    assert found.usage == (0, 0) and found.parallel_tools == 2 and found.tool and found.chunk_delay_ms == 5
    assert found.reply == "hi EMULATOR:x=1"  # reply runs to the end of its line
    assert strip_directives("a EMULATOR:tool b\nEMULATOR:reply=zzz") == "a  b"


@pytest.mark.parametrize(
    "bad",
    ["EMULATOR:stop=nope", "EMULATOR:words=-1", "EMULATOR:usage=1", "EMULATOR:bogus=1", "EMULATOR:delay_ms"],
)
def test_bad_directives(bad: str) -> None:
    with pytest.raises(DirectiveError):
        parse_directives(bad)


def test_schema_example() -> None:
    schema = {
        "type": "object",
        "required": ["city", "n", "unit", "opts", "tags"],
        "properties": {
            "city": {"type": "string"},
            "n": {"type": "integer"},
            "unit": {"enum": ["c", "f"]},
            "opts": {
                "type": "object",
                "required": ["deep"],
                "properties": {"deep": {"type": ["null", "boolean"]}},
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "ignored": {"type": "string"},
        },
    }
    assert schema_example(schema) == {
        "city": "Paris",
        "n": 1,
        "unit": "c",
        "opts": {"deep": True},
        "tags": [],
    }


def test_stream_events_concatenate_to_converse_content() -> None:
    body = {"messages": [{"role": "user", "content": [{"text": "EMULATOR:words=7"}]}]}
    reply = build_reply(body)
    events = stream_events(reply, 10)
    text = "".join(p["delta"]["text"] for kind, p in events if kind == "contentBlockDelta")
    assert text == reply.blocks[0]["text"] and reply.usage["outputTokens"] == 11
    assert split_in("abcdefg", 3) == ["abc", "def", "g"] and split_in("", 3) == [""]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"messages": []},
        {"messages": [{"role": "user", "content": []}]},
        {"messages": [{"role": "user", "content": [{"text": "a"}]}], "stream_options": {}},
        {"messages": [{"role": "user", "content": [{"text": "a"}]}], "system": [{"text": ""}]},
        {"messages": [{"role": "user", "content": [{"text": "a"}]}], "inferenceConfig": {"maxTokens": 0}},
        {"messages": [{"role": "user", "content": [{"text": "a"}]}], "toolConfig": {"tools": []}},
        {
            "messages": [{"role": "user", "content": [{"text": "a"}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "bad name", "inputSchema": {"json": {}}}}]},
        },
    ],
)
def test_validation_rejects(body) -> None:
    with pytest.raises(RequestInvalid):
        validate_request(body)
