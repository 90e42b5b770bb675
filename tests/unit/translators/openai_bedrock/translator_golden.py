"""Golden case folders under tests/golden/: discovery, loading and (re)writing expected files.

A case folder holds openai_request.json (+ optional case.json: capabilities overrides, drop_unsupported)
and the expected converse_request.json or error.json; response cases add converse_response.json +
openai_response.json, stream cases converse_stream.jsonl + openai_chunks.jsonl. notes.md says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from translators.openai_bedrock import ConverseRequest, TranslationError, openai_request_to_converse
from translators.openai_bedrock.capabilities import ModelCapabilities

GOLDEN = Path(__file__).resolve().parents[3] / "golden"
MODEL = "claude-test"
COMPLETION_ID = "chatcmpl-golden0001"
CREATED = 1_700_000_000


def cases(required: str | None = None) -> list[str]:
    return sorted(
        p.name
        for p in GOLDEN.iterdir()
        if (p / "openai_request.json").exists() and (required is None or (p / required).exists())
    )


def load(case: str, name: str) -> Any:
    path = GOLDEN / case / name
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())


def write(case: str, name: str, value: Any) -> None:
    path = GOLDEN / case / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(v, ensure_ascii=False) + "\n" for v in value))
    else:
        path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def options(case: str) -> dict[str, Any]:
    path = GOLDEN / case / "case.json"
    return json.loads(path.read_text()) if path.exists() else {}


def translate(case: str) -> ConverseRequest:
    opts = options(case)
    return openai_request_to_converse(
        load(case, "openai_request.json"),
        capabilities=ModelCapabilities(**opts.get("capabilities", {})),
        drop_unsupported=opts.get("drop_unsupported", False),
    )


def request_as_json(req: ConverseRequest) -> dict[str, Any]:
    return {
        "body": req.body,
        "stream": req.stream,
        "include_usage": req.include_usage,
        "tool_names": dict(req.tool_names),
        "json_tool": req.json_tool,
        "max_tokens": req.max_tokens,
    }


def error_as_json(err: TranslationError) -> dict[str, Any]:
    return {"error": type(err).__name__, "message": err.message, "param": err.param, "code": err.code}
