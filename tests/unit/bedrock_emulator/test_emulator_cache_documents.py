"""The emulator takes cachePoint and document blocks where Bedrock does, and rejects what Bedrock rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_emulator.reply import build_reply
from bedrock_emulator.validation import RequestInvalid, validate_request

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
POINT = {"cachePoint": {"type": "default"}}
DOC = {"document": {"format": "pdf", "name": "report", "source": {"bytes": "JVBERi0="}}}
TOOL = {"toolSpec": {"name": "f", "description": "d", "inputSchema": {"json": {"type": "object"}}}}


def _user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": list(blocks)}]}


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*/converse_request.json")), ids=lambda p: p.parent.name)
def test_every_golden_converse_body_passes_emulator_validation(path: Path) -> None:
    validate_request(json.loads(path.read_text())["body"])


def test_cache_points_in_tools_system_and_messages_are_valid_and_counted() -> None:
    body = {
        **_user({"text": "question " * 10}, POINT, {"text": "tail"}),
        "system": [{"text": "system " * 10}, {"cachePoint": {"type": "default", "ttl": "1h"}}],
        "toolConfig": {"tools": [TOOL, POINT]},
    }
    validate_request(body)
    usage = build_reply(body).usage
    assert usage["cacheReadInputTokens"] > 0 and usage["cacheWriteInputTokens"] == 0


def test_document_with_text_is_valid() -> None:
    validate_request(_user(DOC, {"text": "Summarise"}))


@pytest.mark.parametrize(
    "body",
    [
        _user({"text": "a"}, {"cachePoint": {"type": "custom"}}),
        _user({"text": "a"}, {"cachePoint": {"type": "default", "ttl": "2h"}}),
        _user(*[b for _ in range(5) for b in ({"text": "a"}, POINT)]),
        {**_user({"text": "a"}), "toolConfig": {"tools": [TOOL, {"cachePoint": {}}]}},
        _user(DOC),  # a document needs a text block beside it
        _user({"text": "a"}, {"document": {**DOC["document"], "name": "report.pdf"}}),
        _user({"text": "a"}, {"document": {**DOC["document"], "name": "two  spaces"}}),
        _user({"text": "a"}, {"document": {**DOC["document"], "format": "zip"}}),
        _user({"text": "a"}, DOC, {"document": {**DOC["document"], "name": "REPORT"}}),
        _user({"text": "a"}, *[{"document": {**DOC["document"], "name": f"d{n}"}} for n in range(6)]),
        {"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "assistant", "content": [DOC]}]},
    ],
)
def test_invalid_cache_points_and_documents_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(RequestInvalid):
        validate_request(body)
