"""The Anthropic Messages API over Bedrock: Claude natively (InvokeModel), other models through Converse.

Claude's body passes through with what Bedrock rejects taken out (translators/anthropic_bedrock/invoke.py);
its stream's chunk payloads are relayed as they came, except the one carrying invocationMetrics
(translators/anthropic_bedrock/invoke_stream.py). Stream items are ``(event type, JSON bytes)``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.catalog.catalog import ModelEntry
from proxy.errors import InvalidRequest, UpstreamError
from proxy.providers.base import CallInfo, Completion, PreparedChat, UnreadableResponse
from proxy.providers.bedrock.client import BedrockClient, BedrockEventStream
from proxy.providers.bedrock.tokens import estimate_prompt_tokens
from translators.anthropic_bedrock import (
    AnthropicConverseRequest,
    ConverseToAnthropicStream,
    InvokeRequest,
    InvokeStreamReader,
    StreamIncomplete,
    TranslationError,
    anthropic_request_to_converse,
    anthropic_request_to_invoke,
    converse_response_to_anthropic,
    count_tokens_request,
    count_tokens_response,
    estimate_input_tokens,
    invoke_usage,
)
from translators.openai_bedrock import converse_usage
from translators.usage import Usage

Item = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class PreparedMessages:
    request: InvokeRequest | AnthropicConverseRequest
    prompt_estimate: int

    @property
    def stream(self) -> bool:
        return self.request.stream

    @property
    def max_tokens(self) -> int | None:
        return self.request.max_tokens

    @property
    def attribution(self) -> dict[str, str]:
        return dict(self.request.attribution)


def prepare_messages(body: dict[str, Any], entry: ModelEntry, *, beta_header: str | None) -> PreparedMessages:
    try:
        if entry.native_anthropic:
            invoke = anthropic_request_to_invoke(body, beta_header=beta_header, allowed_betas=entry.anthropic_betas,
                                                 capabilities=entry.anthropic)
            return PreparedMessages(invoke, invoke.input_estimate)
        converse = anthropic_request_to_converse(body, capabilities=entry.capabilities)
    except TranslationError as exc:
        raise InvalidRequest(exc.message, param=exc.param, code=exc.code) from None
    return PreparedMessages(converse, estimate_prompt_tokens(converse.body))


def _prepared(prepared: PreparedChat) -> PreparedMessages:
    assert isinstance(prepared, PreparedMessages), "prepared by another API"
    return prepared


async def messages(client: BedrockClient, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
    request = _prepared(prepared).request
    if isinstance(request, InvokeRequest):
        resp = await client.invoke(entry.bedrock_id, request.body, request_id=info.request_id)
        if not isinstance(resp, dict) or not isinstance(resp.get("content"), list):
            raise UnreadableResponse(invoke_usage(resp)) from ValueError("InvokeModel answer is not a message")
        return Completion({**resp, "model": info.model}, invoke_usage(resp))
    resp = await client.converse(entry.bedrock_id, request.body, request_id=info.request_id)
    usage = converse_usage(resp.get("usage") if isinstance(resp, dict) else None) or Usage()
    try:
        body = converse_response_to_anthropic(resp, request=request, model=info.model, message_id=_msg_id(info))
    except Exception as exc:
        raise UnreadableResponse(usage) from exc
    return Completion(body, usage)


async def messages_stream(client: BedrockClient, entry: ModelEntry, prepared: PreparedChat,
                          info: CallInfo) -> InvokeMessagesStream | ConverseMessagesStream:
    request = _prepared(prepared).request
    if isinstance(request, InvokeRequest):
        upstream = await client.invoke_stream(entry.bedrock_id, request.body, request_id=info.request_id)
        return InvokeMessagesStream(upstream)
    upstream = await client.converse_stream(entry.bedrock_id, request.body, request_id=info.request_id)
    translator = ConverseToAnthropicStream(request, model=info.model, message_id=_msg_id(info))
    return ConverseMessagesStream(upstream, translator)


async def count_tokens(client: BedrockClient, entry: ModelEntry, body: dict[str, Any], *, beta_header: str | None,
                       request_id: str) -> dict[str, int]:
    """Bedrock's CountTokens for Claude; the gateway's estimate for other models (said in docs/anthropic.md)."""
    try:
        if not entry.native_anthropic:
            return {"input_tokens": estimate_input_tokens(body)}
        request = count_tokens_request(body, beta_header=beta_header, allowed_betas=entry.anthropic_betas,
                                       capabilities=entry.anthropic)
    except TranslationError as exc:
        raise InvalidRequest(exc.message, param=exc.param, code=exc.code) from None
    answer = count_tokens_response(await client.count_tokens(entry.bedrock_id, request, request_id=request_id))
    if answer is None:
        raise UpstreamError("The upstream did not return a token count.")
    return answer


def _msg_id(info: CallInfo) -> str:
    return "msg_" + info.completion_id.removeprefix("chatcmpl-")


def _incomplete() -> UpstreamError:
    return UpstreamError("The upstream stream ended before the model finished its answer.", code="upstream_incomplete")


class InvokeMessagesStream:
    """InvokeModelWithResponseStream chunks -> Anthropic events, bytes as Bedrock sent them."""

    def __init__(self, upstream: BedrockEventStream) -> None:
        self._upstream = upstream
        self._events = upstream.__aiter__()
        self._reader = InvokeStreamReader()
        self.usage: Usage | None = None

    def __aiter__(self) -> InvokeMessagesStream:
        return self

    async def __anext__(self) -> list[Item]:
        event = await self._events.__anext__()
        chunk = event.get("chunk")
        if not isinstance(chunk, dict):
            return []  # an event type we do not relay
        try:
            raw = base64.b64decode(chunk.get("bytes") or b"", validate=True)
            item = self._reader.feed(raw)
        except (binascii.Error, StreamIncomplete):
            raise _incomplete() from None
        if item[0] in ("message_start", "message_delta", "message_stop"):
            self.usage = self._reader.usage
        return [item]

    def finish(self) -> list[Item]:
        try:
            self._reader.finish()
        except StreamIncomplete:
            raise _incomplete() from None
        self.usage = self._reader.usage
        return []

    async def aclose(self) -> None:
        await self._upstream.aclose()


class ConverseMessagesStream:
    """ConverseStream events -> Anthropic events (translators/anthropic_bedrock/converse_stream.py)."""

    def __init__(self, upstream: BedrockEventStream, translator: ConverseToAnthropicStream) -> None:
        self._upstream = upstream
        self._events = upstream.__aiter__()
        self._translator = translator
        self.usage: Usage | None = None

    def __aiter__(self) -> ConverseMessagesStream:
        return self

    async def __anext__(self) -> list[Item]:
        event = await self._events.__anext__()
        items = [(kind, orjson.dumps(data)) for kind, data in self._translator.feed(event)]
        if self._translator.usage is not None:
            self.usage = self._translator.usage
        return items

    def finish(self) -> list[Item]:
        try:
            items = [(kind, orjson.dumps(data)) for kind, data in self._translator.finish()]
        except StreamIncomplete:
            raise _incomplete() from None
        self.usage = self._translator.usage or self.usage
        return items

    async def aclose(self) -> None:
        await self._upstream.aclose()
