"""The emulator's embedding models (Titan Text Embeddings v1/v2, Cohere Embed v3/v4) on InvokeModel:
validation in Bedrock's words, deterministic vectors of the right shape, token counts and headers, and
the translator's bodies accepted and answered end to end."""

from __future__ import annotations

import math
import struct
from typing import Any

import orjson
import pytest

from bedrock_emulator.app import create_app
from bedrock_emulator.asgi import EmulatedError
from bedrock_emulator.embeddings import embedding_model, vector
from bedrock_emulator.invoke import prepare_invoke
from bedrock_emulator.operations import JsonResult
from translators.embeddings import (
    bedrock_embeddings_to_openai,
    decode_float32_base64,
    embedding_family,
    openai_embeddings_to_bedrock,
    parse_embeddings_request,
)

TITAN2 = "amazon.titan-embed-text-v2:0"
TITAN1 = "amazon.titan-embed-text-v1"
COHERE3 = "cohere.embed-english-v3"
COHERE3_MULTI = "cohere.embed-multilingual-v3"
COHERE4 = "cohere.embed-v4:0"


def invoke(model_id: str, body: Any) -> JsonResult:
    result = prepare_invoke(model_id, body).respond(10)
    assert isinstance(result, JsonResult)
    return result


def headers(result: JsonResult) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in result.headers}


def norm(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def is_float32(values: list[float]) -> bool:
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values))) == values


@pytest.mark.parametrize(
    ("model_id", "base"),
    [
        (TITAN2, TITAN2),
        ("us.amazon.titan-embed-text-v2:0", TITAN2),
        ("arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3", COHERE3),
        ("global.cohere.embed-v4:0", COHERE4),
        ("amazon.titan-embed-text-v3", None),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", None),
    ],
)
def test_embedding_model(model_id: str, base: str | None) -> None:
    assert embedding_model(model_id) == base


def test_claude_bodies_still_go_to_claude() -> None:
    with pytest.raises(EmulatedError, match=r"required key \[anthropic_version\]"):
        prepare_invoke("us.anthropic.claude-sonnet-4-5-20250929-v1:0", {"inputText": "x"})


# --- Titan ---------------------------------------------------------------------------------------------------

def test_titan_v2_default_answer() -> None:
    result = invoke(TITAN2, {"inputText": "Hello there, emulator"})
    body = result.payload
    assert set(body) == {"embedding", "inputTextTokenCount", "embeddingsByType"}
    assert len(body["embedding"]) == 1024 and body["embeddingsByType"] == {"float": body["embedding"]}
    assert norm(body["embedding"]) == pytest.approx(1.0, abs=1e-5) and is_float32(body["embedding"])
    assert body["inputTextTokenCount"] == 6  # ceil(21 / 4)
    assert headers(result)["x-amzn-bedrock-input-token-count"] == "6"
    assert headers(result)["x-amzn-bedrock-invocation-latency"] == "10"


def test_titan_v2_is_deterministic_and_text_dependent() -> None:
    first = invoke(TITAN2, {"inputText": "same"}).payload["embedding"]
    assert invoke(TITAN2, {"inputText": "same"}).payload["embedding"] == first
    assert invoke(TITAN2, {"inputText": "other"}).payload["embedding"] != first
    assert invoke("us.amazon.titan-embed-text-v2:0", {"inputText": "same"}).payload["embedding"] == first


@pytest.mark.parametrize("dimensions", [256, 512, 1024])
def test_titan_v2_dimensions_and_normalize(dimensions: int) -> None:
    unit = invoke(TITAN2, {"inputText": "x", "dimensions": dimensions}).payload["embedding"]
    raw = invoke(TITAN2, {"inputText": "x", "dimensions": dimensions, "normalize": False}).payload["embedding"]
    assert len(unit) == len(raw) == dimensions
    assert norm(unit) == pytest.approx(1.0, abs=1e-5) and norm(raw) > 2
    assert unit == pytest.approx([v / norm(raw) for v in raw], abs=1e-6)  # the same direction
    assert raw == invoke(TITAN2, {"inputText": "x", "normalize": False}).payload["embedding"][:dimensions]


def test_titan_v2_binary_embedding_type() -> None:
    body = invoke(TITAN2, {"inputText": "x", "dimensions": 256, "embeddingTypes": ["float", "binary"]}).payload
    assert body["embeddingsByType"]["float"] == body["embedding"]
    assert body["embeddingsByType"]["binary"] == [int(v > 0) for v in body["embedding"]]


def test_titan_v1_answer() -> None:
    body = invoke(TITAN1, {"inputText": "abcdefgh"}).payload
    assert set(body) == {"embedding", "inputTextTokenCount"}
    assert len(body["embedding"]) == 1536 and body["inputTextTokenCount"] == 2


@pytest.mark.parametrize(
    ("model_id", "body", "fragment"),
    [
        (TITAN2, "text", "#: expected type: JSONObject, found: str"),
        (TITAN2, {}, "#: required key [inputText] not found"),
        (TITAN2, {"inputText": ""}, "#/inputText: expected minLength: 1, actual: 0"),
        (TITAN2, {"inputText": 5}, "#/inputText: expected type: String, found: Integer"),
        (TITAN2, {"inputText": "x" * 50_001}, "#/inputText: expected maxLength: 50000, actual: 50001"),
        (TITAN2, {"inputText": "x", "dimensions": 300}, "#/dimensions: 300 is not a valid enum value"),
        (TITAN2, {"inputText": "x", "dimensions": "256"}, "#/dimensions: expected type: Integer, found: String"),
        (TITAN2, {"inputText": "x", "normalize": "yes"}, "#/normalize: expected type: Boolean, found: String"),
        (TITAN2, {"inputText": "x", "embeddingTypes": ["int8"]}, "#/embeddingTypes/0: int8 is not a valid enum"),
        (TITAN2, {"inputText": "x", "texts": ["x"]}, "#: extraneous key [texts] is not permitted"),
        (TITAN1, {"inputText": "x", "dimensions": 256}, "#: extraneous key [dimensions] is not permitted"),
        (TITAN1, {"inputText": "x", "normalize": True}, "#: extraneous key [normalize] is not permitted"),
    ],
)
def test_titan_validation(model_id: str, body: Any, fragment: str) -> None:
    with pytest.raises(EmulatedError) as err:
        prepare_invoke(model_id, body)
    assert (err.value.name, err.value.status) == ("ValidationException", 400)
    assert err.value.message.startswith("Malformed input request: ") and fragment in err.value.message


# --- Cohere --------------------------------------------------------------------------------------------------

def cohere(texts: list[str], **extra: Any) -> dict[str, Any]:
    return {"texts": texts, "input_type": "search_document", **extra}


def test_cohere_v3_floats_answer() -> None:
    result = invoke(COHERE3, cohere(["a", "bcdefghij"]))
    body = result.payload
    assert set(body) == {"id", "embeddings", "response_type", "texts"}  # no token count in the body
    assert body["response_type"] == "embeddings_floats" and body["texts"] == ["a", "bcdefghij"]
    assert [len(v) for v in body["embeddings"]] == [1024, 1024]
    assert all(norm(v) == pytest.approx(1.0, abs=1e-5) for v in body["embeddings"])
    assert headers(result)["x-amzn-bedrock-input-token-count"] == "4"  # 1 + 3
    assert invoke(COHERE3, cohere(["a", "bcdefghij"])).payload["id"] == body["id"]


def test_cohere_v3_by_type_answer() -> None:
    kinds = ["float", "int8", "uint8", "binary", "ubinary"]
    body = invoke(COHERE3, cohere(["a", "b", "c"], embedding_types=kinds)).payload
    assert body["response_type"] == "embeddings_by_type" and list(body["embeddings"]) == kinds
    by_type = body["embeddings"]
    assert all(len(by_type[k]) == 3 for k in kinds)
    assert len(by_type["float"][0]) == 1024 and len(by_type["binary"][0]) == len(by_type["ubinary"][0]) == 128
    assert all(-128 <= v <= 127 for v in by_type["int8"][0]) and all(0 <= v <= 255 for v in by_type["uint8"][0])
    assert [u - 128 for u in by_type["ubinary"][0]] == by_type["binary"][0]
    first_byte = sum(int(v > 0) << (7 - i) for i, v in enumerate(by_type["float"][0][:8]))
    assert by_type["ubinary"][0][0] == first_byte


def test_cohere_vectors_depend_on_model_input_type_and_text() -> None:
    def first(model_id: str, **extra: Any) -> list[float]:
        return invoke(model_id, {**cohere(["same"]), **extra}).payload["embeddings"][0]

    base = first(COHERE3)
    assert first(COHERE3) == base
    assert first(COHERE3_MULTI) != base
    assert first(COHERE3, input_type="search_query") != base
    assert first(COHERE3, texts=["different"]) != base


def test_cohere_v4_output_dimension() -> None:
    assert len(invoke(COHERE4, cohere(["x"])).payload["embeddings"][0]) == 1536
    body = invoke(COHERE4, cohere(["x"], output_dimension=256, truncate="LEFT", embedding_types=["float"])).payload
    assert len(body["embeddings"]["float"][0]) == 256


@pytest.mark.parametrize(
    ("model_id", "body", "fragment"),
    [
        (COHERE3, {"texts": ["a"]}, "#: required key [input_type] not found"),
        (COHERE3, {"input_type": "search_query"}, "#: required key [texts] not found"),
        (COHERE3, cohere([]), "#/texts: expected minimum item count: 1, found: 0"),
        (COHERE3, cohere(["a"] * 97), "#/texts: expected maximum item count: 96, found: 97"),
        (COHERE3, cohere(["a", 1]), "#/texts/1: expected type: String, found: Integer"),
        (COHERE3, cohere(["x" * 2049]), "#/texts/0: expected maxLength: 2048, actual: 2049"),
        (COHERE3, cohere("a"), "#/texts: expected type: JSONArray, found: String"),
        (COHERE3, {**cohere(["a"]), "input_type": "query"}, "#/input_type: query is not a valid enum value"),
        (COHERE3, cohere(["a"], truncate="LEFT"), "#/truncate: LEFT is not a valid enum value"),
        (COHERE3, cohere(["a"], embedding_types=["base64"]), "#/embedding_types/0: base64 is not a valid enum"),
        (COHERE3, cohere(["a"], embedding_types=[]), "#/embedding_types: expected minimum item count: 1"),
        (COHERE3, cohere(["a"], output_dimension=256), "#: extraneous key [output_dimension] is not permitted"),
        (COHERE3, cohere(["a"], dimensions=256), "#: extraneous key [dimensions] is not permitted"),
        (COHERE4, cohere(["a"], truncate="END"), "#/truncate: END is not a valid enum value"),
        (COHERE4, cohere(["a"], output_dimension=300), "#/output_dimension: 300 is not a valid enum value"),
        (COHERE4, cohere(["a"], max_tokens=0), "#/max_tokens: 0 is not greater or equal to 1"),
    ],
)
def test_cohere_validation(model_id: str, body: Any, fragment: str) -> None:
    with pytest.raises(EmulatedError) as err:
        prepare_invoke(model_id, body)
    assert err.value.name == "ValidationException" and fragment in err.value.message


def test_images_are_not_emulated() -> None:
    with pytest.raises(EmulatedError, match="texts only"):
        prepare_invoke(COHERE3, {"images": ["data:image/png;base64,AAAA"], "input_type": "image"})


# --- directives ----------------------------------------------------------------------------------------------

def test_directives_in_any_text() -> None:
    call = prepare_invoke(COHERE3, cohere(["fine", "EMULATOR:error=ThrottlingException EMULATOR:delay_ms=5"]))
    assert call.directives.error == ("ThrottlingException", 429) and call.directives.delay_ms == 5
    titan = invoke(TITAN2, {"inputText": "EMULATOR:usage=7,0 counted as seven"})
    assert titan.payload["inputTextTokenCount"] == 7 and headers(titan)["x-amzn-bedrock-input-token-count"] == "7"
    with pytest.raises(EmulatedError, match="bad emulator directive"):
        prepare_invoke(TITAN2, {"inputText": "EMULATOR:bogus=1"})


def test_vector_is_float32_and_prefix_stable() -> None:
    long = vector("m", "t", 1024, normalize=False)
    assert vector("m", "t", 100, normalize=False) == long[:100] and is_float32(long)
    assert all(-1.0 <= v < 1.0 for v in long)


# --- the translator against the emulator ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("model_id", "extra", "dimensions"),
    [
        (TITAN2, {"dimensions": 512}, 512),
        (TITAN2, {}, 1024),
        (TITAN1, {}, 1536),
        ("us." + COHERE3, {"input_type": "search_query", "truncate": "END"}, 1024),
        (COHERE3_MULTI, {}, 1024),
        ("us." + COHERE4, {"dimensions": 256, "truncate": "START"}, 256),
    ],
)
def test_translator_bodies_are_accepted_and_answered(model_id: str, extra: dict[str, Any], dimensions: int) -> None:
    texts = [f"text number {i}" for i in range(100)]  # two Cohere calls, a hundred Titan calls
    request = parse_embeddings_request({"model": "alias", "input": texts, "encoding_format": "base64", **extra})
    family = embedding_family(model_id)
    assert family is not None
    answers = [invoke(model_id, body) for body in openai_embeddings_to_bedrock(request, family=family)]
    counts = [int(headers(a)["x-amzn-bedrock-input-token-count"]) for a in answers]
    result = bedrock_embeddings_to_openai([a.payload for a in answers], request=request, family=family,
                                          model="alias", input_token_counts=counts)
    vectors = [decode_float32_base64(d["embedding"]) for d in result.body["data"]]
    assert [d["index"] for d in result.body["data"]] == list(range(100))
    assert {len(v) for v in vectors} == {dimensions}
    assert result.usage.input_tokens == sum(math.ceil(len(t) / 4) for t in texts) and not result.usage.estimated
    # Order preserved across calls: each vector is the emulator's vector for the text at its index.
    alone = invoke(model_id, openai_embeddings_to_bedrock(
        parse_embeddings_request({"model": "alias", "input": texts[99], **extra}), family=family)[0]).payload
    expected = alone.get("embedding") or alone["embeddings"]["float"][0]
    assert vectors[99] == expected


# --- over ASGI: the answer as the gateway's HTTP client receives it ------------------------------------------

async def _post(path: str, body: Any) -> tuple[int, dict[str, str], Any]:
    app = create_app()
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=testing"),
                         (b"x-amz-date", b"20250101T000000Z")]}
    incoming = [{"type": "http.request", "body": orjson.dumps(body), "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    found = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], found, orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))


async def test_over_asgi() -> None:
    status, found, body = await _post("/model/amazon.titan-embed-text-v2%3A0/invoke", {"inputText": "abcdefgh"})
    assert status == 200 and found["x-amzn-bedrock-input-token-count"] == "2" and len(body["embedding"]) == 1024
    status, found, body = await _post("/model/cohere.embed-english-v3/invoke",
                                      cohere(["EMULATOR:error=ThrottlingException"]))
    assert status == 429 and found["x-amzn-errortype"].startswith("ThrottlingException")
    status, _, body = await _post("/model/cohere.embed-english-v3/invoke", {"texts": ["a"]})
    assert status == 400 and "required key [input_type]" in body["message"]
