"""Bedrock as a provider: OpenAI chat in, Converse / ConverseStream out, OpenAI chat and neutral usage back.

The translation is the pure code in translators/openai_bedrock/; this module adds the I/O
(proxy/providers/bedrock/client.py) and maps translator errors to the gateway's error classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.catalog.catalog import ModelEntry
from proxy.errors import InvalidRequest, UpstreamError
from proxy.providers.base import CallInfo, ChatStream, Completion, PreparedChat, UnreadableResponse
from proxy.providers.bedrock import embeddings as embeddings_api
from proxy.providers.bedrock import messages as messages_api
from proxy.providers.bedrock.client import BedrockClient, BedrockEventStream
from proxy.providers.bedrock.messages import PreparedMessages
from proxy.providers.bedrock.tokens import estimate_prompt_tokens
from translators.openai_bedrock import (
    ConverseRequest,
    ConverseStreamTranslator,
    StreamIncomplete,
    TranslationError,
    converse_response_to_openai,
    converse_usage,
    openai_request_to_converse,
)
from translators.usage import Usage

NAME = "aws-bedrock"  # the product sheet's gateway_metadata.provider


@dataclass(frozen=True, slots=True)
class PreparedConverse:
    request: ConverseRequest
    prompt_estimate: int

    @property
    def stream(self) -> bool:
        return self.request.stream

    @property
    def max_tokens(self) -> int | None:
        return self.request.max_tokens


class BedrockProvider:
    name = NAME

    def __init__(self, client: BedrockClient) -> None:
        self.client = client

    def ready(self) -> str | None:
        return self.client.ready()

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def prepare(self, body: dict[str, Any], entry: ModelEntry, *, drop_unsupported: bool) -> PreparedConverse:
        try:
            request = openai_request_to_converse(body, capabilities=entry.capabilities,
                                                 drop_unsupported=drop_unsupported)
        except TranslationError as exc:
            raise InvalidRequest(exc.message, param=exc.param, code=exc.code) from None
        return PreparedConverse(request, estimate_prompt_tokens(request.body))

    async def chat(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
        request = _converse(prepared)
        resp = await self.client.converse(entry.bedrock_id, request.body, request_id=info.request_id)
        # Usage first: if the body cannot be translated, the call was still billed and is booked with it.
        usage = converse_usage(resp.get("usage") if isinstance(resp, dict) else None) or Usage()
        try:
            body = converse_response_to_openai(resp, request=request, model=info.model,
                                               completion_id=info.completion_id, created=info.created)
        except Exception as exc:
            raise UnreadableResponse(usage) from exc
        return Completion(body, usage)

    async def chat_stream(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> BedrockChatStream:
        request = _converse(prepared)
        upstream = await self.client.converse_stream(entry.bedrock_id, request.body, request_id=info.request_id)
        translator = ConverseStreamTranslator(request, model=info.model, completion_id=info.completion_id,
                                              created=info.created)
        return BedrockChatStream(upstream, translator)


    # --- the Anthropic Messages API (proxy/providers/bedrock/messages.py) ---------------------------
    def prepare_messages(self, body: dict[str, Any], entry: ModelEntry, *,
                         beta_header: str | None) -> PreparedMessages:
        return messages_api.prepare_messages(body, entry, beta_header=beta_header)

    async def messages(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
        return await messages_api.messages(self.client, entry, prepared, info)

    async def messages_stream(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> ChatStream:
        return await messages_api.messages_stream(self.client, entry, prepared, info)

    async def count_tokens(self, entry: ModelEntry, body: dict[str, Any], *, beta_header: str | None,
                           request_id: str) -> dict[str, int]:
        return await messages_api.count_tokens(self.client, entry, body, beta_header=beta_header,
                                               request_id=request_id)


    # --- POST /v1/embeddings (proxy/providers/bedrock/embeddings.py) ----------------------------------
    def prepare_embeddings(self, body: dict[str, Any], entry: ModelEntry) -> PreparedChat:
        return embeddings_api.prepare_embeddings(body, entry)

    async def embeddings(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
        return await embeddings_api.embeddings(self.client, entry, prepared, info)


class BedrockChatStream:
    """ConverseStream events -> lists of chat.completion.chunk dicts, one list per event."""

    def __init__(self, upstream: BedrockEventStream, translator: ConverseStreamTranslator) -> None:
        self._upstream = upstream
        self._events = upstream.__aiter__()
        self._translator = translator
        self.usage: Usage | None = None

    def __aiter__(self) -> BedrockChatStream:
        return self

    async def __anext__(self) -> list[dict[str, Any]]:
        # A plain __anext__ rather than an async generator: one coroutine per event on the hot path.
        event = await self._events.__anext__()
        chunks = self._translator.feed(event)
        if "metadata" in event:
            self.usage = converse_usage(self._translator.usage)
        return chunks

    def finish(self) -> list[dict[str, Any]]:
        try:
            return self._translator.finish()
        except StreamIncomplete:
            raise UpstreamError("The upstream stream ended before the model finished its answer.",
                                code="upstream_incomplete") from None

    async def aclose(self) -> None:
        await self._upstream.aclose()


def _converse(prepared: PreparedChat) -> ConverseRequest:
    assert isinstance(prepared, PreparedConverse), "prepared by another provider"
    return prepared.request
