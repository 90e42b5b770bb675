"""OpenAI ``POST /v1/embeddings`` -> Bedrock InvokeModel (Titan, Cohere) and back (pure: no I/O, clock or env).

The proxy's path, in order::

    request = parse_embeddings_request(body)                        # 400s: TranslationError
    family = embedding_family(bedrock_id)                           # None: not an embedding model we speak
    bodies = openai_embeddings_to_bedrock(request, family=family)   # 400s: TranslationError
    results = [await invoke(bedrock_id, b) for b in bodies]        # concurrently; keep the order
    result = bedrock_embeddings_to_openai(results, request=request, family=family, model=alias)
    result.body, result.usage                                       # UnreadableEmbeddings -> 502
"""

from translators.embeddings.bedrock import bedrock_embeddings_to_openai, openai_embeddings_to_bedrock
from translators.embeddings.cohere import COHERE_BATCH, cohere_requests, cohere_response
from translators.embeddings.errors import TranslationError, UnreadableEmbeddings
from translators.embeddings.models import EmbeddingFamily, base_embedding_model_id, embedding_family
from translators.embeddings.request import EmbeddingsRequest, parse_embeddings_request
from translators.embeddings.response import (
    EmbeddingsResult,
    EmbeddingUsage,
    decode_float32_base64,
    encode_float32_base64,
)
from translators.embeddings.titan import titan_requests, titan_response

__all__ = [
    "COHERE_BATCH",
    "EmbeddingFamily",
    "EmbeddingUsage",
    "EmbeddingsRequest",
    "EmbeddingsResult",
    "TranslationError",
    "UnreadableEmbeddings",
    "base_embedding_model_id",
    "bedrock_embeddings_to_openai",
    "cohere_requests",
    "cohere_response",
    "decode_float32_base64",
    "embedding_family",
    "encode_float32_base64",
    "openai_embeddings_to_bedrock",
    "parse_embeddings_request",
    "titan_requests",
    "titan_response",
]
