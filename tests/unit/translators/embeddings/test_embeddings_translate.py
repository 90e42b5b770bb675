"""The embeddings translator's rules beyond the golden cases: model families, input shapes, batching,
token-count resolution and the float32 base64 encoding."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from translators.embeddings import (
    COHERE_BATCH,
    EmbeddingFamily,
    EmbeddingUsage,
    TranslationError,
    UnreadableEmbeddings,
    base_embedding_model_id,
    cohere_requests,
    cohere_response,
    decode_float32_base64,
    embedding_family,
    encode_float32_base64,
    parse_embeddings_request,
    titan_requests,
    titan_response,
)
from translators.usage import Usage

F = EmbeddingFamily


@pytest.mark.parametrize(
    ("bedrock_id", "family"),
    [
        ("amazon.titan-embed-text-v2:0", F.TITAN_V2),
        ("amazon.titan-embed-text-v2:0:8k", F.TITAN_V2),
        ("amazon.titan-embed-text-v1", F.TITAN_V1),
        ("amazon.titan-embed-text-v1:2:8k", F.TITAN_V1),
        ("amazon.titan-embed-g1-text-02", F.TITAN_V1),
        ("cohere.embed-english-v3", F.COHERE_V3),
        ("cohere.embed-multilingual-v3:0:512", F.COHERE_V3),
        ("cohere.embed-v4:0", F.COHERE_V4),
        ("us.cohere.embed-v4:0", F.COHERE_V4),
        ("global.cohere.embed-v4:0", F.COHERE_V4),
        ("eu.amazon.titan-embed-text-v2:0", F.TITAN_V2),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0", F.TITAN_V2),
        ("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.cohere.embed-v4:0", F.COHERE_V4),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", None),
        ("amazon.titan-embed-image-v1", None),  # multimodal: not a text family we speak
        ("anthropic.claude-3-haiku-20240307-v1:0", None),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", None),
        ("", None),
    ],
)
def test_embedding_family(bedrock_id: str, family: EmbeddingFamily | None) -> None:
    assert embedding_family(bedrock_id) is family


def test_base_model_id() -> None:
    assert base_embedding_model_id("apac.cohere.embed-v4:0") == "cohere.embed-v4:0"
    assert base_embedding_model_id("cohere.embed-v4:0") == "cohere.embed-v4:0"
    assert base_embedding_model_id("weird") == "weird"


# --- parsing -------------------------------------------------------------------------------------------------

def test_input_shapes_are_normalised_to_a_tuple_of_inputs() -> None:
    assert parse_embeddings_request({"model": "m", "input": "a"}).inputs == ("a",)
    assert parse_embeddings_request({"model": "m", "input": ["a", "b"]}).inputs == ("a", "b")
    tokens = parse_embeddings_request({"model": "m", "input": [1, 2, 3]})
    assert tokens.inputs == ((1, 2, 3),) and tokens.has_tokens
    arrays = parse_embeddings_request({"model": "m", "input": [[1], [2, 3]]})
    assert arrays.inputs == ((1,), (2, 3))


def test_limits_count_inputs_not_tokens() -> None:
    assert len(parse_embeddings_request({"model": "m", "input": ["x"] * 2048}).inputs) == 2048
    long_tokens = parse_embeddings_request({"model": "m", "input": list(range(5000))})
    assert len(long_tokens.inputs) == 1  # one token array is one input, however long
    with pytest.raises(TranslationError) as err:
        parse_embeddings_request({"model": "m", "input": [[1]] * 2049})
    assert err.value.param == "input"


def test_nulls_mean_defaults() -> None:
    request = parse_embeddings_request({"model": "m", "input": "x", "encoding_format": None, "dimensions": None,
                                        "user": None, "input_type": None, "normalize": None, "truncate": None})
    assert request.encoding_format == "float" and request.dimensions is None and request.normalize is None


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ([], None, None),
        ({"model": 7, "input": "x"}, "model", "invalid_type"),
        ({"model": "", "input": "x"}, "model", None),
        ({"model": "m", "input": "x", "dimensions": True}, "dimensions", "invalid_type"),
        ({"model": "m", "input": "x", "dimensions": 1.5}, "dimensions", "invalid_type"),
        ({"model": "m", "input": "x", "dimensions": -3}, "dimensions", "invalid_value"),
        ({"model": "m", "input": [True, False]}, "input", "invalid_type"),
        ({"model": "m", "input": [-1, 2]}, "input", "invalid_type"),
        ({"model": "m", "input": [[]]}, "input", "invalid_value"),
        ({"model": "m", "input": [[1], ["a"]]}, "input", "invalid_type"),
        ({"model": "m", "input": 42}, "input", "invalid_type"),
        ({"model": "m", "input": "x", "encoding_format": "FLOAT"}, "encoding_format", "invalid_value"),
        ({"model": "m", "input": "x", "stream": True}, "stream", None),
    ],
)
def test_invalid_requests(body: Any, param: str | None, code: str | None) -> None:
    with pytest.raises(TranslationError) as err:
        parse_embeddings_request(body)
    assert (err.value.param, err.value.code) == (param, code)


# --- batching and families -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "calls"), [(1, [1]), (96, [96]), (97, [96, 1]), (2048, [96] * 21 + [32])])
def test_cohere_splits_into_batches_of_96(count: int, calls: list[int]) -> None:
    texts = [f"t{i}" for i in range(count)]
    bodies = cohere_requests(parse_embeddings_request({"model": "m", "input": texts}))
    assert [len(b["texts"]) for b in bodies] == calls
    assert [t for b in bodies for t in b["texts"]] == texts  # order preserved across calls
    assert COHERE_BATCH == 96


def test_family_mismatch_is_a_programming_error() -> None:
    request = parse_embeddings_request({"model": "m", "input": "x"})
    with pytest.raises(ValueError, match="cohere-v3"):
        titan_requests(request, family=F.COHERE_V3)
    with pytest.raises(ValueError, match="titan-v2"):
        cohere_requests(request, family=F.TITAN_V2)


def test_cohere_v4_defaults_leave_output_dimension_to_the_model() -> None:
    body = cohere_requests(parse_embeddings_request({"model": "m", "input": "x"}), family=F.COHERE_V4)[0]
    assert body == {"texts": ["x"], "input_type": "search_document", "truncate": "NONE",
                    "embedding_types": ["float"]}


# --- usage ---------------------------------------------------------------------------------------------------

def _cohere_answer(count: int) -> dict[str, Any]:
    return {"id": "i", "embeddings": {"float": [[0.5, 0.5]] * count}, "response_type": "embeddings_by_type"}


def test_header_counts_win_over_estimates_call_by_call() -> None:
    request = parse_embeddings_request({"model": "m", "input": ["abcd"] * 100})  # 96 + 4, one token each
    result = cohere_response([_cohere_answer(96), _cohere_answer(4)], request=request, model="alias",
                             input_token_counts=[500, None])
    assert result.usage == EmbeddingUsage(input_tokens=504, estimated=True)
    exact = cohere_response([_cohere_answer(96), _cohere_answer(4)], request=request, model="alias",
                            input_token_counts=[500, 9])
    assert exact.usage == EmbeddingUsage(input_tokens=509, estimated=False)


def test_header_counts_of_the_wrong_length_are_ignored() -> None:
    request = parse_embeddings_request({"model": "m", "input": ["abcdefgh"]})
    result = cohere_response([_cohere_answer(1)], request=request, model="m", input_token_counts=[1, 2])
    assert result.usage == EmbeddingUsage(input_tokens=2, estimated=True)


def test_cohere_billed_units_are_read_when_present() -> None:
    request = parse_embeddings_request({"model": "m", "input": ["abcdefgh"]})
    answer = {**_cohere_answer(1), "meta": {"billed_units": {"input_tokens": 3}}}
    assert cohere_response([answer], request=request, model="m").usage == EmbeddingUsage(input_tokens=3)


def test_usage_is_neutral_usage_with_input_tokens_only() -> None:
    request = parse_embeddings_request({"model": "m", "input": "hello"})
    result = titan_response([{"embedding": [0.1], "inputTextTokenCount": 2}], request=request, model="m")
    assert isinstance(result.usage, Usage)
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (2, 0, 2)
    assert result.body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


@pytest.mark.parametrize(
    "answers",
    [
        [],
        [{"embedding": []}],
        [{"embedding": ["0.1"]}],
        [{"embedding": [True]}],
        ["not an object"],
        [{"embedding": [0.1]}, {"embedding": [0.2]}],
    ],
)
def test_unreadable_titan_answers(answers: list[Any]) -> None:
    request = parse_embeddings_request({"model": "m", "input": "x"})
    with pytest.raises(UnreadableEmbeddings):
        titan_response(answers, request=request, model="m")


def test_odd_token_counts_read_as_unknown() -> None:
    request = parse_embeddings_request({"model": "m", "input": "abcdefgh"})
    for odd in (-1, "3", None, True):
        result = titan_response([{"embedding": [0.1], "inputTextTokenCount": odd}], request=request, model="m")
        assert result.usage == EmbeddingUsage(input_tokens=2, estimated=True)


# --- base64 --------------------------------------------------------------------------------------------------

def test_base64_is_little_endian_float32() -> None:
    assert encode_float32_base64([1.0]) == "AACAPw=="  # 0x3f800000, least significant byte first
    values = [0.1, -2.5, 3.0e-8, 1234.5678]
    raw = base64.b64decode(encode_float32_base64(values))
    assert raw == struct.pack("<4f", *values) and len(raw) == 16
    assert decode_float32_base64(encode_float32_base64(values)) == list(struct.unpack("<4f", raw))


def test_base64_response_shape() -> None:
    request = parse_embeddings_request({"model": "m", "input": ["a", "b"], "encoding_format": "base64"})
    answers = [{"embedding": [0.25, -0.5], "inputTextTokenCount": 1}, {"embedding": [1, 2], "inputTextTokenCount": 1}]
    body = titan_response(answers, request=request, model="alias").body
    assert [d["index"] for d in body["data"]] == [0, 1] and body["model"] == "alias"
    assert [decode_float32_base64(d["embedding"]) for d in body["data"]] == [[0.25, -0.5], [1.0, 2.0]]
