"""One entry pair for the provider: the family picks Titan (a call per input) or Cohere (a call per 96)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from translators.embeddings.cohere import cohere_requests, cohere_response
from translators.embeddings.models import EmbeddingFamily
from translators.embeddings.request import EmbeddingsRequest
from translators.embeddings.response import EmbeddingsResult
from translators.embeddings.titan import titan_requests, titan_response


def openai_embeddings_to_bedrock(request: EmbeddingsRequest, *, family: EmbeddingFamily) -> list[dict[str, Any]]:
    """The InvokeModel bodies for ``request``, in order; send them concurrently, keep the answers in order.

    Raises TranslationError(param=...) for anything the family cannot express.
    """
    if family.is_titan:
        return titan_requests(request, family=family)
    return cohere_requests(request, family=family)


def bedrock_embeddings_to_openai(
    results: Sequence[Any], *, request: EmbeddingsRequest, family: EmbeddingFamily, model: str,
    input_token_counts: Sequence[int | None] | None = None,
) -> EmbeddingsResult:
    """The OpenAI response (``model`` echoed as the client named it) and the neutral usage.

    ``results``: the parsed answers to ``openai_embeddings_to_bedrock``'s bodies, in the same order;
    ``input_token_counts``: their ``x-amzn-bedrock-input-token-count`` headers, if read. Raises
    UnreadableEmbeddings when an answer holds no usable vectors.
    """
    if family.is_titan:
        return titan_response(results, request=request, model=model, input_token_counts=input_token_counts)
    return cohere_response(results, request=request, model=model, input_token_counts=input_token_counts)
