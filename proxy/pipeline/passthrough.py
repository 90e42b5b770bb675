"""Bedrock pass-through (Claude Code's Bedrock mode): the client speaks Bedrock Runtime to the gateway.

`POST /model/{id}/invoke[-with-response-stream]` and `/converse[-stream]`: the team key authenticates
(the client's own SigV4 is ignored), the model id goes through the catalog (aliases, allow-lists), the
body is sent as the client sent it, re-signed with the gateway's credentials, and the answer's bytes come
back unchanged; usage is read from the answer or the event stream on the way, for the same books.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from proxy.auth.principal import Principal
from proxy.catalog.catalog import ModelEntry
from proxy.errors import InternalError, UpstreamTimeout, UpstreamUnavailable
from proxy.ids import random_hex
from proxy.pipeline.books import Books
from proxy.pipeline.call import ChatCall
from proxy.pipeline.chat import CallPipeline, Reply, StreamReply
from proxy.pipeline.estimates import estimated_usage
from proxy.providers.base import CallInfo
from proxy.providers.bedrock.client import BedrockClient
from proxy.providers.bedrock.passthrough import EVENTSTREAM, JSON, PreparedPassthrough, UsageMeter, prepare


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
