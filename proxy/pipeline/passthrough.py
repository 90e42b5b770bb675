"""Bedrock pass-through (Claude Code's Bedrock mode): the client speaks Bedrock Runtime to the gateway.

`POST /model/{id}/invoke[-with-response-stream]` and `/converse[-stream]`: the team key authenticates
(the client's own SigV4 is ignored), the model id goes through the catalog (aliases, allow-lists), the
body is sent as the client sent it, re-signed with the gateway's credentials, and the answer's bytes come
back unchanged; usage is read from the answer or the event stream on the way, for the same books.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from proxy.auth.principal import Principal
from proxy.catalog.catalog import ModelEntry
from proxy.errors import InternalError, InvalidRequest, UpstreamTimeout, UpstreamUnavailable
from proxy.ids import random_hex
from proxy.pipeline.books import Books
from proxy.pipeline.call import ChatCall
from proxy.pipeline.chat import CallPipeline, Reply, StreamReply
from proxy.pipeline.estimates import estimated_usage
from proxy.providers.base import CallInfo
from proxy.providers.bedrock.client import BedrockClient
from proxy.providers.bedrock.eventstream import EventStreamDecoder
from proxy.providers.bedrock.tokens import estimate_prompt_tokens
from translators.anthropic_bedrock import InvokeStreamReader, estimate_input_tokens, invoke_usage
from translators.openai_bedrock import converse_usage
from translators.usage import Usage

log = logging.getLogger("llm_gateway.passthrough")

OPERATIONS = {"invoke": False, "invoke-with-response-stream": True, "converse": False, "converse-stream": True}
JSON = "application/json"
EVENTSTREAM = "application/vnd.amazon.eventstream"


@dataclass(frozen=True, slots=True)
class PreparedPassthrough:
    operation: str
    payload: bytes  # the client's body, byte for byte
    stream: bool
    max_tokens: int | None
    prompt_estimate: int


def prepare(operation: str, payload: bytes, allowed_betas: frozenset[str] = frozenset()) -> PreparedPassthrough:
    """The client's bytes, unchanged but for one thing: betas Bedrock does not take for this model are
    dropped from ``anthropic_beta`` (Claude Code sends some that Bedrock answers with 400 invalid beta flag)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if operation.startswith("invoke"):
        max_tokens, estimate = body.get("max_tokens"), estimate_input_tokens(body)
        betas = body.get("anthropic_beta")
        if isinstance(betas, list) and any(beta not in allowed_betas for beta in betas):
            kept = [beta for beta in betas if beta in allowed_betas]
            body = {k: v for k, v in body.items() if k != "anthropic_beta"} | ({"anthropic_beta": kept} if kept else {})
            payload = orjson.dumps(body)
    else:
        config = body.get("inferenceConfig")
        max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
        estimate = estimate_prompt_tokens(body)
    return PreparedPassthrough(operation, payload, OPERATIONS[operation],
                               max_tokens if isinstance(max_tokens, int) else None, estimate)


class UsageMeter:
    """Reads usage out of the upstream's answer while its bytes go to the client untouched."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.decoder = EventStreamDecoder()
        self.reader = InvokeStreamReader()
        self.usage: Usage | None = None
        self.complete = False

    def answer(self, raw: bytes) -> Usage:
        try:
            data: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Usage()
        if self.operation == "invoke":
            return invoke_usage(data)
        return converse_usage(data.get("usage") if isinstance(data, dict) else None) or Usage()

    def feed(self, data: bytes) -> None:
        try:
            for message in self.decoder.feed(data):
                self._message(message.headers, message.payload)
        except ValueError:  # a frame we cannot read is still the client's to read; metering falls back
            log.warning("pass-through: an event-stream frame could not be metered")

    def _message(self, headers: dict[str, Any], payload: bytes) -> None:
        kind = headers.get(":event-type")
        if self.operation == "invoke-with-response-stream" and kind == "chunk":
            try:
                chunk = orjson.loads(payload)
                self.reader.feed(base64.b64decode(chunk.get("bytes") or b"", validate=True))
            except (orjson.JSONDecodeError, binascii.Error, AttributeError, ValueError):
                return
            self.usage = self.reader.usage
            self.complete = self.reader.saw_message_stop
        elif kind == "messageStop":
            self.complete = True
        elif kind == "metadata":
            with_usage = orjson.loads(payload) if payload else {}
            self.usage = converse_usage(with_usage.get("usage") if isinstance(with_usage, dict) else None)


class PassthroughPipeline(CallPipeline):
    def __init__(self, *, client: BedrockClient | None, **shared: Any) -> None:
        super().__init__(**shared)
        self.client = client

    async def run(self, *, request_id: str, principal: Principal, entry: ModelEntry, operation: str,
                  payload: bytes, started: float, session_id: str | None = None) -> Reply | StreamReply:
        entry = self.priced(entry, principal)
        prepared = prepare(operation, payload, entry.anthropic_betas)
        info = CallInfo(request_id=request_id, model=entry.alias, completion_id=random_hex(), created=int(time.time()))
        call = await self.admit(info=info, principal=principal, entry=entry, provider=self.providers[entry.provider],
                                prepared=prepared, started=started, route="bedrock", session_id=session_id)
        return await self.guarded(call, self._stream if prepared.stream else self._complete)

    async def _send(self, call: ChatCall) -> aiohttp.ClientResponse:
        prepared = call.prepared
        assert isinstance(prepared, PreparedPassthrough)
        if self.client is None:
            raise InternalError("No Bedrock provider is configured for the pass-through routes.")
        accept = EVENTSTREAM if prepared.stream else JSON
        return await self.client.post_raw(call.entry.bedrock_id, prepared.operation, prepared.payload, accept,
                                          request_id=call.request_id)

    async def _complete(self, call: ChatCall) -> Reply | StreamReply:
        resp = await self._send(call)
        try:
            raw = await resp.read()
        except TimeoutError:
            raise UpstreamTimeout("The model did not answer in time.") from None
        except aiohttp.ClientError:
            raise UpstreamUnavailable("The upstream connection failed; retry shortly.") from None
        finally:
            resp.release()
        call.upstream_done = time.perf_counter()
        assert isinstance(call.prepared, PreparedPassthrough)
        call.usage = UsageMeter(call.prepared.operation).answer(raw)
        return Reply(raw, call.headers(), functools.partial(self.books.close, call, status="ok", streaming=False))

    async def _stream(self, call: ChatCall) -> Reply | StreamReply:
        resp = await self._send(call)
        assert isinstance(call.prepared, PreparedPassthrough)
        frames = relay_bytes(self.books, call, resp, UsageMeter(call.prepared.operation))
        return StreamReply(frames, call.headers(), functools.partial(_abandon, self.books, call, resp))


async def relay_bytes(books: Books, call: ChatCall, resp: aiohttp.ClientResponse,
                      meter: UsageMeter) -> AsyncIterator[bytes]:
    status, relayed = "client_disconnected", 0
    try:
        async for data in resp.content.iter_any():
            if call.first_token is None:
                call.first_token = time.perf_counter()
            meter.feed(data)
            relayed += len(data)
            yield data
        call.upstream_done = time.perf_counter()
        status = "ok" if meter.complete else "upstream_error"
    except (aiohttp.ClientError, TimeoutError):
        status = "upstream_error"  # the client sees its stream end early, as it would from Bedrock
    finally:
        if meter.usage is not None:
            call.usage = meter.usage
        else:
            call.usage, call.estimated = estimated_usage(call.prepared.prompt_estimate, relayed // 4), True
        try:
            await books.close(call, status=status, streaming=True)
        finally:
            resp.close()


async def _abandon(books: Books, call: ChatCall, resp: aiohttp.ClientResponse) -> None:
    try:
        call.usage, call.estimated = estimated_usage(call.prepared.prompt_estimate, 0), True
        await books.close(call, status="client_disconnected", streaming=True)
    finally:
        resp.close()
