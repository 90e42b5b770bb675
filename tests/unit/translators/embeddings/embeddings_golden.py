"""Golden case folders under tests/golden_embeddings/: discovery, loading, running and (re)writing.

A case folder holds openai_request.json and case.json (``model_id``: the Bedrock id translated for;
``input_token_counts``: the header count of each call, when the case passes them), and the expected
bedrock_requests.json (the InvokeModel bodies, in order) or error.json. Response cases add
bedrock_responses.json (Bedrock's answers, in order) -> openai_response.json + usage.json, or
response_error.json. notes.md says what the case is for.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from translators.embeddings import (
    EmbeddingFamily,
    EmbeddingsRequest,
    EmbeddingsResult,
    TranslationError,
    UnreadableEmbeddings,
    bedrock_embeddings_to_openai,
    embedding_family,
    openai_embeddings_to_bedrock,
    parse_embeddings_request,
)

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden_embeddings"


def cases(required: str = "openai_request.json") -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "openai_request.json").exists() and (p / required).exists())


def load(case: str, name: str) -> Any:
    return json.loads((GOLDEN / case / name).read_text())


def write(case: str, name: str, value: Any) -> None:
    (GOLDEN / case / name).write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def family(case: str) -> EmbeddingFamily:
    found = embedding_family(load(case, "case.json")["model_id"])
    assert found is not None, f"{case}: case.json model_id is not an embedding model"
    return found


def parse(case: str, **overrides: Any) -> EmbeddingsRequest:
    return parse_embeddings_request({**load(case, "openai_request.json"), **overrides})


def translate(case: str) -> list[dict[str, Any]]:
    return openai_embeddings_to_bedrock(parse(case), family=family(case))


def respond(case: str, **overrides: Any) -> EmbeddingsResult:
    request = parse(case, **overrides)
    return bedrock_embeddings_to_openai(
        load(case, "bedrock_responses.json"), request=request, family=family(case), model=request.model,
        input_token_counts=load(case, "case.json").get("input_token_counts"),
    )


def error_as_json(err: TranslationError | UnreadableEmbeddings) -> dict[str, Any]:
    if isinstance(err, TranslationError):
        return {"error": type(err).__name__, "message": err.message, "param": err.param, "code": err.code}
    return {"error": type(err).__name__, "message": str(err)}


def usage_as_json(result: EmbeddingsResult) -> dict[str, Any]:
    return asdict(result.usage)
