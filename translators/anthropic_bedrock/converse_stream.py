"""ConverseToAnthropicStream: Bedrock ConverseStream events -> Anthropic stream events (pure).

Converse events (boto3 shape, `{"messageStart": {...}}`): messageStart, contentBlockStart (tool use only),
contentBlockDelta (text | toolUse.input | reasoningContent text/signature/redactedContent), contentBlockStop,
messageStop (stopReason), then metadata (usage). Anthropic's: message_start, then per block
content_block_start / content_block_delta* / content_block_stop (text_delta, input_json_delta, thinking_delta,
signature_delta; redacted_thinking arrives whole in its start), then message_delta (stop_reason, usage) and
message_stop.

Usage: Anthropic puts input tokens in message_start, Converse reports usage only at the end. message_start
carries the caller's estimate; message_delta carries Bedrock's real numbers, input_tokens and the cache counts
included. Anthropic's own API does this too (message_delta usage totals are cumulative and overwrite), and the
SDKs' accumulators take them (anthropic-sdk-python: `if event.usage.input_tokens is not None: ...`).
So message_delta waits for the metadata event, like the OpenAI stream translator's finish chunk.

Blocks are emitted one at a time, in order: Anthropic indexes count from 0 in the order blocks start, whatever
Converse's contentBlockIndex values are.
"""

from __future__ import annotations

from typing import Any

from translators.anthropic_bedrock.converse import AnthropicConverseRequest
from translators.anthropic_bedrock.converse_response import stop_reason, stop_sequence, usage_block
from translators.anthropic_bedrock.errors import StreamIncomplete
from translators.openai_bedrock.response import converse_usage
from translators.usage import Usage

Event = tuple[str, dict[str, Any]]


class ConverseToAnthropicStream:
    def __init__(
        self,
        request: AnthropicConverseRequest,
        *,
        model: str,
        message_id: str,
        input_tokens_estimate: int | None = None,
    ) -> None:
        self.request = request
        self.model = model
        self.message_id = message_id
        self.estimate = request.input_estimate if input_tokens_estimate is None else input_tokens_estimate
        self.usage: Usage | None = None  # Bedrock's, from the metadata event
        self.stop_reason: str | None = None  # Anthropic's, once messageStop came
        self._started = False
        self._done = False  # message_stop sent
        self._open: tuple[int, str] | None = None  # (contentBlockIndex, kind) of the open Anthropic block
        self._index = -1  # Anthropic index of the last block started

    def feed(self, event: dict[str, Any]) -> list[Event]:
        if self._done:
            return []
        match event:
            case {"messageStart": _}:
                return self._start()
            case {"contentBlockStart": {"start": {"toolUse": dict() as use}, **rest}}:
                return self._start() + self._tool_start(_block(rest), use)
            case {"contentBlockDelta": {"delta": dict() as delta, **rest}}:
                return self._start() + self._delta(_block(rest), delta)
            case {"contentBlockStop": dict() as stop}:
                return self._stop_block(_block(stop))
            case {"messageStop": dict() as stop}:
                return self._message_stop(stop.get("stopReason"))
            case {"metadata": dict() as meta}:
                self.usage = converse_usage(meta.get("usage")) or self.usage
                return self._final() if self.stop_reason is not None else []
        return []  # unknown events (and ones without an Anthropic twin) are ignored

    def finish(self) -> list[Event]:
        """End of upstream: without messageStop the answer is truncated, never a success (PITFALLS #26)."""
        if self.stop_reason is None:
            raise StreamIncomplete(
                "the upstream stream ended before the response was complete", code="stream_incomplete"
            )
        return self._final()  # no metadata event: message_delta carries the estimate, self.usage stays None

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_block(None, input_estimate=self.estimate),
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self._index})]

    def _open_block(self, block: int, kind: str, start: dict[str, Any]) -> list[Event]:
        if self._open == (block, kind):
            return []
        events = self._close()
        self._index += 1
        self._open = (block, kind)
        return [*events, ("content_block_start", {"type": "content_block_start", "index": self._index,
                                                  "content_block": start})]

    def _delta_event(self, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})

    def _tool_start(self, block: int, use: dict[str, Any]) -> list[Event]:
        name = use.get("name", "")
        start = {"type": "tool_use", "id": use.get("toolUseId", ""), "name": self.request.tool_names.get(name, name),
                 "input": {}}
        return self._open_block(block, "tool_use", start)

    def _delta(self, block: int, delta: dict[str, Any]) -> list[Event]:
        if isinstance(delta.get("text"), str):
            if not delta["text"]:
                return []
            events = self._open_block(block, "text", {"type": "text", "text": ""})
            return [*events, self._delta_event({"type": "text_delta", "text": delta["text"]})]
        if isinstance(delta.get("toolUse"), dict):
            piece = delta["toolUse"].get("input")
            if not isinstance(piece, str) or not piece or self._open != (block, "tool_use"):
                return []  # a delta without its start (or after its stop) has nothing to attach to
            return [self._delta_event({"type": "input_json_delta", "partial_json": piece})]
        if isinstance(delta.get("reasoningContent"), dict):
            return self._reasoning(block, delta["reasoningContent"])
        return []

    def _reasoning(self, block: int, reasoning: dict[str, Any]) -> list[Event]:
        thinking = {"type": "thinking", "thinking": "", "signature": ""}
        if isinstance(reasoning.get("text"), str) and reasoning["text"]:
            events = self._open_block(block, "thinking", thinking)
            return [*events, self._delta_event({"type": "thinking_delta", "thinking": reasoning["text"]})]
        if isinstance(reasoning.get("signature"), str) and reasoning["signature"]:
            events = self._open_block(block, "thinking", thinking)
            return [*events, self._delta_event({"type": "signature_delta", "signature": reasoning["signature"]})]
        if isinstance(reasoning.get("redactedContent"), str) and reasoning["redactedContent"]:
            start = {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
            return self._open_block(block, "redacted_thinking", start) + self._close()
        return []

    def _stop_block(self, block: int) -> list[Event]:
        return self._close() if self._open is not None and self._open[0] == block else []

    def _message_stop(self, reason: Any) -> list[Event]:
        if self.stop_reason is not None:
            return []
        self.stop_reason = stop_reason(reason)
        events = self._start() + self._close()
        return events + (self._final() if self.usage is not None else [])

    def _final(self) -> list[Event]:
        if self._done:
            return []
        self._done = True
        reason = self.stop_reason or "end_turn"
        delta = {"stop_reason": reason, "stop_sequence": stop_sequence(reason, self.request)}
        usage = usage_block(self.usage, input_estimate=self.estimate)
        return [
            *self._close(),
            ("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}),
            ("message_stop", {"type": "message_stop"}),
        ]


def _block(event: dict[Any, Any]) -> int:
    index = event.get("contentBlockIndex", 0)
    return index if isinstance(index, int) else 0
