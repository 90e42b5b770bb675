"""Which embedding family a Bedrock model id belongs to: the family decides the body shape and the batching.

Pure string rules. ``proxy.providers.bedrock.model_ids.base_model_id`` does the same prefix strip, but
translators import nothing from ``proxy`` (import-linter contract), so the few lines live here too.
"""

from __future__ import annotations

from enum import StrEnum


class EmbeddingFamily(StrEnum):
    TITAN_V1 = "titan-v1"    # amazon.titan-embed-text-v1: {"inputText"} only, 1536 dimensions
    TITAN_V2 = "titan-v2"    # amazon.titan-embed-text-v2:0: + dimensions 256/512/1024, normalize
    COHERE_V3 = "cohere-v3"  # cohere.embed-english-v3 / -multilingual-v3: 96 texts a call, 1024 dimensions
    COHERE_V4 = "cohere-v4"  # cohere.embed-v4:0: 96 texts a call, output_dimension 256..1536

    @property
    def is_titan(self) -> bool:
        return self in (EmbeddingFamily.TITAN_V1, EmbeddingFamily.TITAN_V2)


# Base model id prefix -> family; the prefix also matches provisioned variants (":2:8k", ":0:512").
_FAMILIES: tuple[tuple[str, EmbeddingFamily], ...] = (
    ("amazon.titan-embed-text-v2", EmbeddingFamily.TITAN_V2),
    ("amazon.titan-embed-text-v1", EmbeddingFamily.TITAN_V1),
    ("amazon.titan-embed-g1-text", EmbeddingFamily.TITAN_V1),  # Titan v1's older name
    ("cohere.embed-english-v3", EmbeddingFamily.COHERE_V3),
    ("cohere.embed-multilingual-v3", EmbeddingFamily.COHERE_V3),
    ("cohere.embed-v4", EmbeddingFamily.COHERE_V4),
)
_PROVIDERS = ("amazon.", "cohere.")


def base_embedding_model_id(bedrock_id: str) -> str:
    """``us.cohere.embed-v4:0`` -> ``cohere.embed-v4:0``; a foundation-model ARN -> its model id.

    Any one leading segment before a known provider is taken as an inference-profile prefix (``us.``,
    ``eu.``, ``apac.``, ``global.``, ...), so a new geography needs no change here.
    """
    tail = bedrock_id.rsplit("/", 1)[-1] if bedrock_id.startswith("arn:") else bedrock_id
    if tail.startswith(_PROVIDERS):
        return tail
    _, dot, rest = tail.partition(".")
    return rest if dot and rest.startswith(_PROVIDERS) else tail


def embedding_family(bedrock_id: str) -> EmbeddingFamily | None:
    """The family of a Bedrock embedding model id, profile id or ARN; None for anything else.

    An application inference profile ARN names no model, so it is None too: the catalog must say.
    """
    model = base_embedding_model_id(bedrock_id)
    for prefix, family in _FAMILIES:
        if model.startswith(prefix):
            return family
    return None
