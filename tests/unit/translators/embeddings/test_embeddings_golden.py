"""Golden cases: request -> InvokeModel bodies (or the 400), Bedrock answers -> OpenAI response + usage.

Every produced response is validated with the openai SDK's own model, and every base64 answer is decoded
the way the SDK decodes it.
"""

from __future__ import annotations

from typing import Any

import pytest
from openai import omit
from openai._models import construct_type
from openai.lib._parsing._embeddings import parse_embedding_response
from openai.types import CreateEmbeddingResponse

from tests.unit.translators.embeddings.embeddings_golden import (
    cases,
    error_as_json,
    load,
    respond,
    translate,
    usage_as_json,
    write,
)
from translators.embeddings import TranslationError, UnreadableEmbeddings, decode_float32_base64


def _check(case: str, name: str, actual: Any, update: bool) -> None:
    if update:
        write(case, name, actual)
    assert actual == load(case, name)


@pytest.mark.parametrize("case", cases())
def test_request(case: str, update_golden: bool) -> None:
    try:
        actual, name = translate(case), "bedrock_requests.json"
    except TranslationError as err:
        actual, name = error_as_json(err), "error.json"
    _check(case, name, actual, update_golden)


@pytest.mark.parametrize("case", cases("bedrock_responses.json"))
def test_response(case: str, update_golden: bool) -> None:
    try:
        result = respond(case)
    except UnreadableEmbeddings as err:
        _check(case, "response_error.json", error_as_json(err), update_golden)
        return
    if result.body["data"] and isinstance(result.body["data"][0]["embedding"], list):
        CreateEmbeddingResponse.model_validate(result.body)  # the SDK's model types only the float shape
    _check(case, "openai_response.json", result.body, update_golden)
    _check(case, "usage.json", usage_as_json(result), update_golden)
    assert result.body["usage"]["prompt_tokens"] == result.usage.input_tokens


def _readable(case: str) -> bool:
    try:
        respond(case)
    except UnreadableEmbeddings:
        return False
    return True


@pytest.mark.parametrize("case", [c for c in cases("bedrock_responses.json") if _readable(c)])
def test_base64_round_trip(case: str) -> None:
    """base64 decodes (ours, and the SDK's default path) to the float answer rounded to float32."""
    floats = respond(case, encoding_format="float").body
    encoded = respond(case, encoding_format="base64").body
    as_float32 = [decode_float32_base64(d["embedding"]) for d in encoded["data"]]
    for mine, exact in zip(as_float32, floats["data"], strict=True):
        assert mine == pytest.approx(exact["embedding"], rel=1e-6, abs=1e-9)
    # What `client.embeddings.create(...)` does without encoding_format: ask for base64, build the response
    # as the SDK builds every response (construct_type, no validation), then decode it itself.
    parsed = construct_type(type_=CreateEmbeddingResponse, value=encoded)
    sdk = parse_embedding_response(parsed, encoding_format=omit)
    assert [d.embedding for d in sdk.data] == as_float32
    assert encoded["usage"] == floats["usage"]
