"""POST /v1/messages: the Anthropic Messages API through the same admission, books and drain as chat.

Claude Code and the Anthropic SDK are metered, limited and budgeted exactly like chat completions
(proxy/pipeline/chat.py CallPipeline); only the shapes differ: Anthropic's message JSON, its SSE
events (`event: <type>`), `ping` keep-alives and an `event: error` for a failure after the first byte.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import orjson

from proxy.auth.principal import Principal
from proxy.catalog.catalog import ModelEntry
from proxy.errors import GatewayError
from proxy.ids import random_hex
from proxy.pipeline.call import ChatCall
from proxy.pipeline.chat import CallPipeline, Reply, StreamReply
from proxy.pipeline.relay import abandon, relay
from proxy.providers.base import CallInfo, ChatStream, PreparedChat, Provider
from translators.anthropic_bedrock.errors import error_body, error_type_for_status
from translators.anthropic_bedrock.sse import PING, event_bytes

# Anthropic's envelope rather than OpenAI's: what the Anthropic SDK and Claude Code parse.


def anthropic_error(error: GatewayError) -> dict[str, Any]:
    return error_body(error_type_for_status(error.status), error.message)


class AnthropicEvents:
    """The relay's framing for Anthropic streams: items are (event type, JSON bytes) pairs."""

    keepalive = PING

    def frame(self, call: ChatCall, stream: ChatStream, item: Any) -> bytes:
        return event_bytes(item[0], item[1])

    def chars(self, item: Any) -> int:
        # Generated text sits in content_block_delta events; ~60 bytes of each are the JSON around it.
        return max(0, len(item[1]) - 60) if item[0] == "content_block_delta" else 0

    def error(self, error: GatewayError) -> bytes:
        return event_bytes("error", orjson.dumps(anthropic_error(error)))

    def end(self) -> bytes:
        return b""  # message_stop was the last event


ANTHROPIC = AnthropicEvents()


class MessagesPipeline(CallPipeline):
    async def run(self, *, request_id: str, principal: Principal, entry: ModelEntry, body: dict[str, Any],
                  beta_header: str | None, started: float, session_id: str | None = None) -> Reply | StreamReply:
        def prepare(provider: Provider, deployment: ModelEntry) -> PreparedChat:
            return provider.prepare_messages(body, deployment, beta_header=beta_header)

        candidates, prepared = self.first_prepared(entry, principal, prepare)
        first = candidates[0]
        info = CallInfo(request_id=request_id, model=body["model"], completion_id="chatcmpl-" + random_hex(),
                        created=int(time.time()))
        call = await self.admit(info=info, principal=principal, entry=first, provider=self.providers[first.provider],
                                prepared=prepared, started=started, route="messages", session_id=session_id,
                                alternatives=candidates[1:])
        step = self._stream if prepared.stream else self._complete
        return await self.guarded(call, functools.partial(self.routed, candidates=candidates, prepare=prepare,
                                                          step=step))

    async def _complete(self, call: ChatCall) -> Reply | StreamReply:
        completion = await call.provider.messages(call.entry, call.prepared, call.info)
        call.upstream_done = time.perf_counter()
        call.usage = completion.usage
        return Reply(orjson.dumps(completion.body), call.headers(),
                     functools.partial(self.books.close, call, status="ok", streaming=False))

    async def _stream(self, call: ChatCall) -> Reply | StreamReply:
        stream = await call.provider.messages_stream(call.entry, call.prepared, call.info)
        frames = relay(self.books, call, stream, self.keepalive_s, self.drain, ANTHROPIC)
        return StreamReply(frames, call.headers(), functools.partial(abandon, self.books, call, stream))
