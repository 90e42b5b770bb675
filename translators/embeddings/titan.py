"""Amazon Titan Text Embeddings v1 / v2 on InvokeModel: one call per input, fanned out by the provider.

Titan takes one ``inputText`` per call, so the request becomes a list of bodies (in input order) and the
response is built from the list of their answers, in the same order.
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

TITAN_V2_DIMENSIONS = (256, 512, 1024)
TITAN_V2_DEFAULT_DIMENSIONS = 1024


def titan_requests(
    request: EmbeddingsRequest, *, family: EmbeddingFamily = EmbeddingFamily.TITAN_V2
) -> list[dict[str, Any]]:
    """One InvokeModel body per input. Raises TranslationError for token arrays, a ``dimensions`` Titan
    cannot produce, and the Cohere extensions (``input_type``, ``truncate``)."""
    if not family.is_titan:
        raise ValueError(f"titan_requests called for {family.value}")
    texts = bedrock_texts(request)
    refuse_extensions(request, ("input_type", "truncate"), "Titan")
    if family is EmbeddingFamily.TITAN_V1:
        if request.dimensions is not None:
            raise TranslationError("'dimensions' is not supported by Titan Text Embeddings v1 (1536 dimensions "
                                   "only); Titan v2 offers 256, 512 and 1024", param="dimensions",
                                   code="unsupported_parameter")
        refuse_extensions(request, ("normalize",), "Titan v1")
        return [{"inputText": text} for text in texts]
    dimensions = TITAN_V2_DEFAULT_DIMENSIONS if request.dimensions is None else request.dimensions
    if dimensions not in TITAN_V2_DIMENSIONS:
        raise TranslationError("'dimensions' must be one of 256, 512, 1024 for Titan Text Embeddings v2",
                               param="dimensions", code="invalid_value")
    # Both written out, defaults included: the body says what was asked, whatever Titan's defaults become.
    normalize = True if request.normalize is None else request.normalize
    return [{"inputText": text, "dimensions": dimensions, "normalize": normalize} for text in texts]


def titan_response(
    results: Sequence[Any], *, request: EmbeddingsRequest, model: str,
    input_token_counts: Sequence[int | None] | None = None,
) -> EmbeddingsResult:
    """The OpenAI response from Titan's answers, one per body of ``titan_requests``, in the same order.

    ``input_token_counts``: each call's ``x-amzn-bedrock-input-token-count`` header, where the body has
    no ``inputTextTokenCount``. Raises UnreadableEmbeddings when an answer holds no vector.
    """
    texts = bedrock_texts(request)
    if len(results) != len(texts):
        raise UnreadableEmbeddings(f"expected {len(texts)} Titan responses, got {len(results)}")
    headers = header_counts(input_token_counts, len(texts))
    vectors: list[Vector] = []
    total, estimated = 0, False
    for index, (result, text, header) in enumerate(zip(results, texts, headers, strict=True)):
        vector = result.get("embedding") if isinstance(result, dict) else None
        if not is_vector(vector):
            raise UnreadableEmbeddings(f"Titan response {index} holds no embedding")
        vectors.append(vector)
        reported = count_or_none(result.get("inputTextTokenCount"))
        tokens, guessed = call_tokens(reported, header, [text])
        total, estimated = total + tokens, estimated or guessed
    usage = EmbeddingUsage(input_tokens=total, estimated=estimated)
    return openai_embeddings_response(vectors, model=model, encoding_format=request.encoding_format, usage=usage)
