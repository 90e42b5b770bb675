"""The OpenAI embeddings response, its base64 encoding and the neutral usage every family returns.

``encoding_format=base64`` is the hot path: the openai SDK asks for it by default and decodes it itself
(``np.frombuffer(base64.b64decode(s), dtype="float32")``, or ``array("f", ...)`` without numpy), so the
bytes must be little-endian IEEE float32, four per dimension, nothing else.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, TypeGuard

from translators.usage import Usage

Vector = list[float]


@dataclass(frozen=True, slots=True)
class EmbeddingUsage(Usage):
    """Usage with input tokens only; ``estimated`` when Bedrock reported no count and ceil(chars/4) stood in."""

    estimated: bool = False


class OpenAIEmbedding(TypedDict):
    object: Literal["embedding"]
    index: int
    embedding: Vector | str


class OpenAIEmbeddingUsage(TypedDict):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingsResponse(TypedDict):
    object: Literal["list"]
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIEmbeddingUsage


@dataclass(frozen=True)
class EmbeddingsResult:
    body: OpenAIEmbeddingsResponse  # what the client gets
    usage: EmbeddingUsage  # what pricing, limits and the books read


def encode_float32_base64(vector: Sequence[float]) -> str:
    """Little-endian float32 bytes, base64-encoded: what OpenAI sends and its SDK decodes."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def decode_float32_base64(data: str) -> Vector:
    """The inverse of encode_float32_base64 (for tests and clients of the gateway's own code)."""
    raw = base64.b64decode(data, validate=True)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def estimate_tokens(texts: Sequence[str]) -> int:
    """ceil(chars/4) per text: the rule of thumb of Bedrock's Cohere docs ("1 token is about 4 characters")."""
    return sum(math.ceil(len(text) / 4) for text in texts)


def is_vector(value: Any) -> TypeGuard[Vector]:
    # orjson decodes JSON numbers to int or float only; a bool or a string inside is an upstream fault.
    return isinstance(value, list) and bool(value) and all(type(x) is float or type(x) is int for x in value)


def openai_embeddings_response(
    vectors: Sequence[Vector], *, model: str, encoding_format: str, usage: EmbeddingUsage
) -> EmbeddingsResult:
    """``{"object": "list", "data": [...], "model", "usage"}`` with each vector as floats or base64."""
    encode = encode_float32_base64 if encoding_format == "base64" else None
    data: list[OpenAIEmbedding] = [
        {"object": "embedding", "index": index, "embedding": encode(vector) if encode else vector}
        for index, vector in enumerate(vectors)
    ]
    tokens = usage.prompt_tokens
    body: OpenAIEmbeddingsResponse = {
        "object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return EmbeddingsResult(body, usage)


def count_or_none(value: Any) -> int | None:
    """A token count as Bedrock reports it, or None when it is not a non-negative integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def call_tokens(reported: int | None, header: int | None, texts: Sequence[str]) -> tuple[int, bool]:
    """(input tokens of one Bedrock call, estimated?): the body's count, else the
    ``x-amzn-bedrock-input-token-count`` header's, else ceil(chars/4) over the call's texts."""
    for count in (reported, header):
        if count is not None:
            return count, False
    return estimate_tokens(texts), True


def header_counts(counts: Sequence[int | None] | None, calls: int) -> list[int | None]:
    """One header count per call (None where unknown); a list of another length is ignored entirely."""
    if counts is None or len(counts) != calls:
        return [None] * calls
    return [count_or_none(c) for c in counts]
