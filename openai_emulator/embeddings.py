"""Deterministic embeddings: unit vectors derived from SHAKE-256 of each input.

SHAKE-256's output for n bytes is a prefix of its output for more, so the vector for ``dimensions=d`` is the
re-normalised prefix of the full vector, as text-embedding-3's shortened embeddings are. Values are rounded
to float32 so the ``float`` and ``base64`` (little-endian float32, as OpenAI sends) encodings carry the
same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

import orjson

from bedrock_emulator.reply import tokens
from openai_emulator.asgi import invalid

DEFAULT_DIMENSIONS = 1536
MODEL_DIMENSIONS = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536, "text-embedding-ada-002": 1536}
MAX_DIMENSIONS = 8192


def embedding_inputs(body: dict[str, Any]) -> list[str | list[int]]:
    """``input`` as a list of strings or token arrays; raises 400 as OpenAI does for an empty or odd input."""
    value = body.get("input")
    if value is None:
        raise invalid("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if isinstance(value, str) or (isinstance(value, list) and value and all(_is_token(t) for t in value)):
        items: list[Any] = [value]
    elif isinstance(value, list) and value:
        items = value
    else:
        raise invalid("'$.input' is invalid. Please check the API reference.", param="input")
    for item in items:
        if not (isinstance(item, str) and item) and not (isinstance(item, list) and item and all(map(_is_token, item))):
            raise invalid("'$.input' is invalid. Please check the API reference.", param="input")
    return items


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def dimensions_for(body: dict[str, Any], model: str) -> int:
    requested = body.get("dimensions")
    if requested is None:
        return MODEL_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    if not isinstance(requested, int) or isinstance(requested, bool) or not 1 <= requested <= MAX_DIMENSIONS:
        raise invalid(f"Invalid 'dimensions': expected an integer from 1 to {MAX_DIMENSIONS}.", param="dimensions")
    return requested


def vector(item: str | list[int], dimensions: int) -> list[float]:
    """A unit-length float32 vector determined by ``item`` alone (token arrays hash their JSON)."""
    seed = item.encode() if isinstance(item, str) else orjson.dumps(item)
    raw = struct.unpack(f"<{dimensions}H", hashlib.shake_256(seed).digest(2 * dimensions))
    centred = [value - 32767.5 for value in raw]
    norm = math.sqrt(sum(value * value for value in centred))
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *(v / norm for v in centred))))


def embeddings_body(body: dict[str, Any], model: str, prompt_tokens: int | None = None) -> dict[str, Any]:
    """The ``/embeddings`` reply; ``prompt_tokens`` overrides the count (``EMULATOR:usage=``)."""
    items = embedding_inputs(body)
    encoding = body.get("encoding_format") or "float"
    if encoding not in {"float", "base64"}:
        raise invalid("Invalid 'encoding_format': expected 'float' or 'base64'.", param="encoding_format")
    dimensions = dimensions_for(body, model)
    data = []
    for index, item in enumerate(items):
        values = vector(item, dimensions)
        encoded: Any = values
        if encoding == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    if prompt_tokens is None:
        prompt_tokens = sum(tokens(len(i)) if isinstance(i, str) else len(i) for i in items)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": prompt_tokens,
                                                                      "total_tokens": prompt_tokens}}
