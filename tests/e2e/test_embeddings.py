"""POST /v1/embeddings end to end: the openai SDK and LangChain's OpenAIEmbeddings over the Bedrock emulator."""

from __future__ import annotations

import base64
import math
import struct
import time

import httpx
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from tests.e2e.conftest import DEMO_KEY, Gateway

pytestmark = pytest.mark.e2e


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_titan_v2_through_the_openai_sdk(gateway: Gateway) -> None:
    client = gateway.client()
    raw = client.embeddings.with_raw_response.create(model="titan-embed-text-v2", input=["alpha", "beta", "alpha"],
                                                     dimensions=256, encoding_format="float")
    result = raw.parse()
    assert [d.index for d in result.data] == [0, 1, 2] and result.model == "titan-embed-text-v2"
    assert all(len(d.embedding) == 256 for d in result.data)
    assert result.data[0].embedding == result.data[2].embedding != result.data[1].embedding  # deterministic
    assert abs(norm(result.data[0].embedding) - 1) < 1e-5  # Titan normalises by default
    assert result.usage.prompt_tokens > 0 and result.usage.total_tokens == result.usage.prompt_tokens
    assert raw.headers["x-gateway-provider"] == "aws-bedrock"
    assert raw.headers["x-gateway-deployment"] == "bedrock/amazon.titan-embed-text-v2:0"
    assert float(raw.headers["x-gateway-cost-usd"]) > 0


def test_the_sdks_default_base64_decodes_to_the_float_vectors(gateway: Gateway) -> None:
    client = gateway.client()
    floats = client.embeddings.create(model="titan-embed-text-v2", input="gamma", encoding_format="float")
    # Without encoding_format the SDK asks for base64 and decodes it itself (as little-endian float32).
    decoded = client.embeddings.create(model="titan-embed-text-v2", input="gamma")
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-7)
    body = httpx.post(f"{gateway.base_url}/embeddings", headers={"Authorization": f"Bearer {DEMO_KEY}"},
                      json={"model": "titan-embed-text-v2", "input": "gamma", "encoding_format": "base64"}).json()
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(floats.data[0].embedding, abs=1e-7)


def test_cohere_batches_and_input_type_extension(gateway: Gateway) -> None:
    client = gateway.client()
    texts = [f"doc {i}" for i in range(200)]  # three Cohere calls of up to 96
    docs = client.embeddings.create(model="cohere-embed-english-v3", input=texts, encoding_format="float")
    assert [d.index for d in docs.data] == list(range(200))
    query = client.embeddings.create(model="cohere-embed-english-v3", input="doc 0", encoding_format="float",
                                     extra_body={"input_type": "search_query"})
    assert query.data[0].embedding != docs.data[0].embedding  # the input type reached Cohere


def test_langchain_openai_embeddings_work_unchanged(gateway: Gateway) -> None:
    embeddings = OpenAIEmbeddings(model="titan-embed-text-v2", base_url=gateway.base_url, api_key=DEMO_KEY,
                                  check_embedding_ctx_length=False)
    vectors = embeddings.embed_documents(["one", "two"])
    assert len(vectors) == 2 and len(vectors[0]) == 1024
    assert embeddings.embed_query("one") == pytest.approx(vectors[0], abs=1e-7)


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "titan-embed-text-v2", "input": [[1, 2, 3]]}, "input"),
    ({"model": "titan-embed-text-v2", "input": "x", "dimensions": 300}, "dimensions"),
    ({"model": "titan-embed-text-v2", "input": ""}, "input"),
    ({"model": "titan-embed-text-v2", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "cohere-embed-english-v3", "input": "x", "dimensions": 256}, "dimensions"),
    ({"model": "nova-micro", "input": "x"}, "model"),
    ({"model": "titan-embed-text-v2"}, "input"),
])
def test_bad_embedding_requests_are_openai_400s(gateway: Gateway, body: dict[str, object], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().post("/embeddings", body=body, cast_to=httpx.Response)
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param, error


def test_embeddings_are_booked_with_route_and_cost(gateway: Gateway) -> None:
    client = gateway.client()
    client.embeddings.create(model="titan-embed-text-v2", input="book me", encoding_format="float")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        usage = httpx.get(f"{gateway.base_url}/usage", headers={"Authorization": f"Bearer {DEMO_KEY}"},
                          params={"days": 1}).json()
        models = {row["model"]: row for row in usage["by_model"]}
        if "titan-embed-text-v2" in models:
            row = models["titan-embed-text-v2"]
            assert row["cost_usd"] > 0 and row["completion_tokens"] == 0
            return
        time.sleep(0.2)
    raise AssertionError(f"no usage row for the embeddings call: {usage}")
