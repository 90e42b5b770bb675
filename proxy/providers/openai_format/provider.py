"""An OpenAI-format upstream as a provider: the client's chat body passes through, not round-tripped.

Only the model name is rewritten (to the deployment's) and the gateway's own fields (the Bedrock
extensions of translators/openai_bedrock/params.py, ``cache_control`` markers) are removed; streams
always ask for ``stream_options.include_usage`` so every call is metered, and the usage chunk reaches
the client only when it asked for one. Responses keep the upstream's fields; ``model`` echoes the name
the client sent, as on Bedrock, so a fallback to another deployment does not change what clients see.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from proxy.catalog.catalog import ModelEntry
from proxy.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from proxy.providers.base import CHARS_PER_TOKEN, CallInfo, ChatStream, Completion, PreparedChat, UnreadableResponse
from proxy.providers.openai_format.client import OpenAIFormatClient, sse_data
from translators.usage import Usage

log = logging.getLogger("llm_gateway.openai_format")

NAMES = {"openai": "openai", "azure": "azure-openai", "openai_compatible": "openai-compatible"}
# Gateway-only fields: Bedrock extensions (translators/openai_bedrock/params.py EXTENSIONS) that an
# OpenAI-format upstream would reject as unrecognized arguments.
GATEWAY_FIELDS = frozenset({"guardrailConfig", "additionalModelRequestFields", "additionalModelResponseFieldPaths",
                            "performanceConfig", "requestMetadata", "prompt_caching"})


@dataclass(frozen=True, slots=True)
class PreparedPassthrough:
    body: dict[str, Any]
    stream: bool
    max_tokens: int | None
    prompt_estimate: int
    client_wants_usage: bool


def _count(block: Any, name: str) -> int:
    value = block.get(name) if isinstance(block, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def openai_usage(raw: Any) -> Usage | None:
    """OpenAI's usage block -> Usage; prompt_tokens includes the cached tokens, which are billed apart."""
    if not isinstance(raw, dict) or not isinstance(raw.get("prompt_tokens"), int) \
            or not isinstance(raw.get("completion_tokens"), int):
        return None
    prompt = _count(raw, "prompt_tokens")
    cached = min(_count(raw.get("prompt_tokens_details"), "cached_tokens"), prompt)
    return Usage(input_tokens=prompt - cached, output_tokens=_count(raw, "completion_tokens"),
                 cache_read_tokens=cached,
                 reasoning_tokens=_count(raw.get("completion_tokens_details"), "reasoning_tokens"))


def _strip_markers(value: Any) -> Any:
    """``cache_control`` on content parts and tools is the gateway's (Bedrock's cachePoint), not OpenAI's."""
    if isinstance(value, list):
        return [_strip_markers(item) for item in value]
    if isinstance(value, dict):
        return {k: _strip_markers(v) for k, v in value.items() if k != "cache_control"}
    return value


def _estimate(body: dict[str, Any]) -> int:
    # ~4 characters a token over the JSON of what the model reads (admission only; real usage wins).
    size = len(orjson.dumps(body.get("messages"))) + (len(orjson.dumps(body["tools"])) if body.get("tools") else 0)
    return size // CHARS_PER_TOKEN + 1


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"Invalid '{name}': expected an integer of at least 1.", param=name,
                             code="invalid_value")
    return value


class OpenAIFormatProvider:
    def __init__(self, client: OpenAIFormatClient, *, missing_key: str | None = None) -> None:
        self.client = client
        self.name = NAMES[client.config.kind]
        self._missing_key = missing_key

    def ready(self) -> str | None:
        if self._missing_key is not None:
            return f"api_key_env {self._missing_key} is not set"
        return self.client.ready()

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def prepare(self, body: dict[str, Any], entry: ModelEntry, *, drop_unsupported: bool) -> PreparedPassthrough:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("'messages' must be a non-empty array of messages.", param="messages",
                                 code="invalid_value" if isinstance(messages, list) else "missing_required_parameter")
        stream = body.get("stream", False)
        if not isinstance(stream, bool) and stream is not None:
            raise InvalidRequest("Invalid 'stream': expected a boolean.", param="stream", code="invalid_type")
        options = body.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise InvalidRequest("Invalid 'stream_options': expected an object.", param="stream_options",
                                 code="invalid_type")
        max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
        upstream = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
        upstream["messages"] = _strip_markers(messages)
        if "tools" in upstream:
            upstream["tools"] = _strip_markers(upstream["tools"])
        # Azure's deployment paths name the deployment in the URL; elsewhere the body's model is the
        # upstream's name (the v1 form's "model" is the deployment's name).
        upstream["model"] = entry.deployment or entry.upstream_model
        wants_usage = bool(options and options.get("include_usage"))
        if stream:
            upstream["stream_options"] = {**(options or {}), "include_usage": True}
        return PreparedPassthrough(upstream, stream=bool(stream), max_tokens=max_tokens,
                                   prompt_estimate=_estimate(body), client_wants_usage=wants_usage)

    async def chat(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
        request = _passthrough(prepared)
        url = self.client.url("chat/completions", entry.deployment)
        resp = await self.client.post(url, request.body, request_id=info.request_id)
        data = await self.client.json(resp, request_id=info.request_id)
        usage = openai_usage(data.get("usage") if isinstance(data, dict) else None)
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise UnreadableResponse(usage or Usage()) from ValueError("not a chat.completion")
        if usage is None:
            # Billed but unreported: book the estimate rather than nothing (the stream path does the same).
            log.warning("upstream reported no usage provider=%s request_id=%s", self.client.config.name,
                        info.request_id)
            usage = Usage(input_tokens=request.prompt_estimate)
        data["model"] = info.model
        return Completion(data, usage)

    async def chat_stream(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> ChatStream:
        request = _passthrough(prepared)
        url = self.client.url("chat/completions", entry.deployment)
        resp = await self.client.post(url, request.body, request_id=info.request_id)
        stream = PassthroughStream(resp, info.model, request.client_wants_usage, self.client.first_byte_timeout_s)
        try:
            await stream.prime()
        except BaseException:
            await stream.aclose()
            raise
        return stream

    # --- the Anthropic Messages API: not translated to OpenAI's format (yet) ------------------------
    def prepare_messages(self, body: dict[str, Any], entry: ModelEntry, *, beta_header: str | None) -> PreparedChat:
        raise InvalidRequest(f"The model `{entry.alias}` is served by an OpenAI-format provider, which "
                             "/v1/messages cannot reach; use /v1/chat/completions.", param="model")

    async def messages(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
        raise AssertionError("prepare_messages refuses every request")

    async def messages_stream(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> ChatStream:
        raise AssertionError("prepare_messages refuses every request")

    async def count_tokens(self, entry: ModelEntry, body: dict[str, Any], *, beta_header: str | None,
                           request_id: str) -> dict[str, int]:
        raise InvalidRequest(f"The model `{entry.alias}` is served by an OpenAI-format provider; "
                             "count_tokens is Anthropic's API.", param="model")


    # --- POST /v1/embeddings: passed through ------------------------------------------------------
    def prepare_embeddings(self, body: dict[str, Any], entry: ModelEntry) -> PreparedPassthrough:
        items = body.get("input")
        if items is None or items == "" or items == []:
            raise InvalidRequest("'input' must be a non-empty string or array.", param="input",
                                 code="invalid_value" if items is not None else "missing_required_parameter")
        upstream = {**body, "model": entry.deployment or entry.upstream_model}
        size = len(orjson.dumps(items))
        return PreparedPassthrough(upstream, stream=False, max_tokens=None,
                                   prompt_estimate=size // CHARS_PER_TOKEN + 1, client_wants_usage=False)

    async def embeddings(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion:
        request = _passthrough(prepared)
        url = self.client.url("embeddings", entry.deployment)
        resp = await self.client.post(url, request.body, request_id=info.request_id)
        data = await self.client.json(resp, request_id=info.request_id)
        raw = data.get("usage") if isinstance(data, dict) else None
        tokens = raw.get("prompt_tokens") if isinstance(raw, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise UnreadableResponse(Usage(input_tokens=request.prompt_estimate)) from ValueError("not a list")
        data["model"] = info.model
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            return Completion(data, Usage(input_tokens=request.prompt_estimate), estimated=True)
        return Completion(data, Usage(input_tokens=tokens))


class PassthroughStream:
    """The upstream's chat.completion.chunk events, held back only to carry the usage to the finish chunk.

    OpenAI sends the finish chunk, then a usage chunk with no choices. The relay
    (proxy/pipeline/relay.py) puts gateway_metadata on the finish chunk once the usage is known, so
    chunks with a finish_reason wait for the usage chunk (they are adjacent, at the very end).
    """

    def __init__(self, resp: aiohttp.ClientResponse, model: str, client_wants_usage: bool,
                 first_byte_timeout_s: float) -> None:
        self._resp = resp
        self._events = sse_data(resp)
        self._model = model
        self._wants_usage = client_wants_usage
        self._first_byte_timeout_s = first_byte_timeout_s
        self._held: list[dict[str, Any]] = []
        self._primed: list[dict[str, Any]] | None = None
        self._done = False
        self._closed = False
        self.usage: Usage | None = None

    async def prime(self) -> None:
        """Wait for the first event, so errors before any content are real HTTP errors (and fall back)."""
        try:
            async with asyncio.timeout(self._first_byte_timeout_s):
                self._primed = await self._next_items()
        except TimeoutError:
            raise UpstreamTimeout("The model did not start answering in time.") from None

    def __aiter__(self) -> PassthroughStream:
        return self

    async def __anext__(self) -> list[dict[str, Any]]:
        if self._primed is not None:
            items, self._primed = self._primed, None
            return items
        if self._done:
            raise StopAsyncIteration
        return await self._next_items()

    async def _next_items(self) -> list[dict[str, Any]]:
        try:
            data = await self._events.__anext__()
        except StopAsyncIteration:
            self._done = True
            raise UpstreamError("The upstream stream ended before [DONE].", code="upstream_incomplete") from None
        except TimeoutError:
            raise UpstreamTimeout("The model stopped sending in time.") from None
        except (aiohttp.ClientError, ValueError):
            raise UpstreamError("The upstream stream ended unexpectedly.", code="upstream_incomplete") from None
        if data == b"[DONE]":
            self._done = True
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamError("The upstream sent an unreadable stream event.") from None
        if not isinstance(chunk, dict):
            raise UpstreamError("The upstream sent an unreadable stream event.")
        if isinstance(chunk.get("error"), dict):  # an in-stream error (OpenAI and vLLM send these)
            error = chunk["error"]
            raise UpstreamError(str(error.get("message") or "The upstream failed mid-stream.")[:2000])
        if "model" in chunk:
            chunk["model"] = self._model
        usage = openai_usage(chunk.get("usage"))
        choices = chunk.get("choices")
        if usage is not None:
            self.usage = usage
            held, self._held = self._held, []
            if not choices and not self._wants_usage:
                return held
            if not self._wants_usage:
                chunk.pop("usage", None)
            return [*held, chunk]
        if choices and isinstance(choices, list) and isinstance(choices[0], dict) and choices[0].get("finish_reason"):
            self._held.append(chunk)
            return []
        return [chunk]

    def finish(self) -> list[dict[str, Any]]:
        held, self._held = self._held, []
        return held

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            if self._done:
                self._resp.release()
            else:
                self._resp.close()  # half-read: never pooled


def _passthrough(prepared: PreparedChat) -> PreparedPassthrough:
    assert isinstance(prepared, PreparedPassthrough), "prepared by another provider"
    return prepared
