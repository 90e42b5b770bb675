"""POST /v1/embeddings on Bedrock: Titan (one InvokeModel per input) and Cohere (one per 96 inputs).

The translation is translators/embeddings/ (pure); this module sends its bodies concurrently, one task
per body on the shared aiohttp session (no thread per call), and keeps the answers in input order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from proxy.catalog.catalog import ModelEntry
from proxy.errors import InvalidRequest
from proxy.providers.base import CHARS_PER_TOKEN, CallInfo, Completion, PreparedChat, UnreadableResponse
from proxy.providers.bedrock.client import BedrockClient
from translators.embeddings import (
    EmbeddingFamily,
    EmbeddingsRequest,
    TranslationError,
    bedrock_embeddings_to_openai,
    embedding_family,
    openai_embeddings_to_bedrock,
    parse_embeddings_request,
)
from translators.usage import Usage

# Concurrent InvokeModel calls of one request: a 2,048-input Titan request must not open 2,048 sockets.
FAN_OUT = 16


@dataclass(frozen=True, slots=True)
class PreparedEmbeddings:
    request: EmbeddingsRequest
    family: EmbeddingFamily
    bodies: list[dict[str, Any]]
    prompt_estimate: int
    stream: bool = False
    max_tokens: int | None = None


def prepare_embeddings(body: dict[str, Any], entry: ModelEntry) -> PreparedEmbeddings:
    try:
        request = parse_embeddings_request(body)
        family = embedding_family(entry.bedrock_id)
        if family is None:
            raise InvalidRequest(f"The model `{entry.alias}` is not an embedding model; /v1/embeddings takes "
                                 "Titan Text Embeddings or Cohere Embed models.", param="model",
                                 code="model_not_supported")
        bodies = openai_embeddings_to_bedrock(request, family=family)
    except TranslationError as exc:
        raise InvalidRequest(exc.message, param=exc.param, code=exc.code) from None
    chars = sum(len(item) for item in request.inputs if isinstance(item, str))
    return PreparedEmbeddings(request, family, bodies, chars // CHARS_PER_TOKEN + len(request.inputs))


async def embeddings(client: BedrockClient, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
    assert isinstance(prepared, PreparedEmbeddings), "prepared by another provider"
    gate = asyncio.Semaphore(FAN_OUT)

    async def one(body: dict[str, Any]) -> tuple[Any, int | None]:
        async with gate:
            return await client.invoke_counted(entry.bedrock_id, body, request_id=info.request_id)

    tasks = [asyncio.ensure_future(one(body)) for body in prepared.bodies]
    try:
        answers = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # one failed (or we were cancelled): the rest would be billed for nothing
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    try:
        result = bedrock_embeddings_to_openai([a for a, _ in answers], request=prepared.request,
                                              family=prepared.family, model=info.model,
                                              input_token_counts=[count for _, count in answers])
    except ValueError as exc:  # UnreadableEmbeddings: billed, unreadable
        raise UnreadableResponse(Usage(input_tokens=prepared.prompt_estimate)) from exc
    usage = result.usage
    return Completion(dict(result.body), Usage(input_tokens=usage.input_tokens), estimated=usage.estimated)
