"""Cohere Embed v3 / v4 on InvokeModel: batches of up to 96 texts, split and rejoined in input order.

Bedrock's Cohere v3 answers carry no token counts, so usage comes from the call's
``x-amzn-bedrock-input-token-count`` header when the provider passes it, else from an estimate
(ceil(chars/4) per text) flagged ``estimated``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from translators.embeddings.errors import TranslationError, UnreadableEmbeddings
from translators.embeddings.models import EmbeddingFamily
from translators.embeddings.request import EmbeddingsRequest, bedrock_texts, refuse_extensions
from translators.embeddings.response import (
    EmbeddingsResult,
    EmbeddingUsage,
    Vector,
    call_tokens,
    count_or_none,
    header_counts,
    is_vector,
    openai_embeddings_response,
)

COHERE_BATCH = 96  # texts per InvokeModel call (Bedrock's limit for v3 and v4)
COHERE_V3_MAX_CHARS = 2048  # characters per text, v3 on Bedrock
COHERE_V4_DIMENSIONS = (256, 512, 1024, 1536)
DEFAULT_INPUT_TYPE = "search_document"  # v3 and v4 on Bedrock require one; documents are the common case
# The extension speaks Cohere's own API (NONE|START|END); v4 on Bedrock spells them NONE|LEFT|RIGHT.
_V4_TRUNCATE = {"NONE": "NONE", "START": "LEFT", "END": "RIGHT"}
_COHERE = (EmbeddingFamily.COHERE_V3, EmbeddingFamily.COHERE_V4)


def cohere_batches(texts: Sequence[str]) -> list[list[str]]:
    return [list(texts[start:start + COHERE_BATCH]) for start in range(0, len(texts), COHERE_BATCH)]


def cohere_requests(
    request: EmbeddingsRequest, *, family: EmbeddingFamily = EmbeddingFamily.COHERE_V3
) -> list[dict[str, Any]]:
    """One InvokeModel body per 96 texts, in input order. Raises TranslationError for token arrays,
    ``dimensions`` (v3 has 1024 only; v4 takes 256/512/1024/1536), texts over 2048 characters (v3) and
    the Titan extension ``normalize``."""
    if family not in _COHERE:
        raise ValueError(f"cohere_requests called for {family.value}")
    texts = bedrock_texts(request)
    refuse_extensions(request, ("normalize",), "Cohere")
    truncate = request.truncate or "NONE"  # NONE: too long is an error, as it is on OpenAI
    extra: dict[str, Any] = {}
    if family is EmbeddingFamily.COHERE_V3:
        _check_v3(request, texts)
    else:
        truncate = _V4_TRUNCATE[truncate]
        if request.dimensions is not None:
            if request.dimensions not in COHERE_V4_DIMENSIONS:
                raise TranslationError("'dimensions' must be one of 256, 512, 1024, 1536 for Cohere Embed v4",
                                       param="dimensions", code="invalid_value")
            extra["output_dimension"] = request.dimensions
    input_type = request.input_type or DEFAULT_INPUT_TYPE
    # embedding_types ["float"]: the by-type answer has one documented shape for v3 and v4 alike.
    return [
        {"texts": batch, "input_type": input_type, "truncate": truncate, "embedding_types": ["float"], **extra}
        for batch in cohere_batches(texts)
    ]


def _check_v3(request: EmbeddingsRequest, texts: list[str]) -> None:
    if request.dimensions is not None:
        raise TranslationError("'dimensions' is not supported by Cohere Embed v3 (1024 dimensions only)",
                               param="dimensions", code="unsupported_parameter")
    for index, text in enumerate(texts):
        if len(text) > COHERE_V3_MAX_CHARS:
            raise TranslationError(
                f"'input[{index}]' is {len(text)} characters long; Cohere Embed v3 on Bedrock takes at most "
                f"{COHERE_V3_MAX_CHARS}", param="input", code="invalid_value",
            )


def cohere_response(
    results: Sequence[Any], *, request: EmbeddingsRequest, model: str,
    input_token_counts: Sequence[int | None] | None = None,
) -> EmbeddingsResult:
    """The OpenAI response from Cohere's answers, one per body of ``cohere_requests``, in the same order.

    Reads both answer shapes (``embeddings_floats``: a list of vectors; ``embeddings_by_type``:
    ``{"float": [...]}``). Raises UnreadableEmbeddings when an answer lacks vectors or holds too few.
    """
    batches = cohere_batches(bedrock_texts(request))
    if len(results) != len(batches):
        raise UnreadableEmbeddings(f"expected {len(batches)} Cohere responses, got {len(results)}")
    headers = header_counts(input_token_counts, len(batches))
    vectors: list[Vector] = []
    total, estimated = 0, False
    for index, (result, batch, header) in enumerate(zip(results, batches, headers, strict=True)):
        found = _float_vectors(result)
        if found is None or len(found) != len(batch) or not all(is_vector(v) for v in found):
            raise UnreadableEmbeddings(f"Cohere response {index} does not hold {len(batch)} float embeddings")
        vectors += found
        tokens, guessed = call_tokens(_billed_tokens(result), header, batch)
        total, estimated = total + tokens, estimated or guessed
    usage = EmbeddingUsage(input_tokens=total, estimated=estimated)
    return openai_embeddings_response(vectors, model=model, encoding_format=request.encoding_format, usage=usage)


def _float_vectors(result: Any) -> list[Any] | None:
    embeddings = result.get("embeddings") if isinstance(result, dict) else None
    if isinstance(embeddings, dict):
        embeddings = embeddings.get("float")
    return embeddings if isinstance(embeddings, list) else None


def _billed_tokens(result: dict[str, Any]) -> int | None:
    """Cohere's own API reports ``meta.billed_units.input_tokens``; read it should Bedrock pass it on."""
    meta = result.get("meta")
    units = meta.get("billed_units") if isinstance(meta, dict) else None
    return count_or_none(units.get("input_tokens")) if isinstance(units, dict) else None
