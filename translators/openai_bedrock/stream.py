"""ConverseStreamTranslator: Bedrock ConverseStream events -> chat.completion.chunk dicts (pure).

Event shapes: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
Tool calls are keyed by contentBlockIndex, never `index - 1` (PITFALLS #1-#3); choices[].index is always 0.
"""

from __future__ import annotations

from typing import Any

from translators.openai_bedrock.errors import StreamIncomplete
from translators.openai_bedrock.request import ConverseRequest
from translators.openai_bedrock.response import clean_usage, openai_usage, response_finish_reason


class ConverseStreamTranslator:
    def __init__(self, request: ConverseRequest, *, model: str, completion_id: str, created: int) -> None:
        self.request = request
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self._base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
        }
        self._role_sent = False
        self._usage_sent = False
        self._finish_sent = False
        self._tool_index: dict[int, int] = {}  # contentBlockIndex -> 0-based tool_calls index
        self._json_blocks: set[int] = set()  # blocks carrying the forced response_format tool
        self._has_input: set[int] = set()
        self._reasoning: dict[int, str] = {}  # thinking text per block, echoed with its signature
        self._thinking_count = 0

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        match event:
            case {"messageStart": _}:
                return self._role()
            case {"contentBlockStart": {"start": {"toolUse": dict() as use}, **rest}}:
                return self._role() + self._tool_start(_block(rest), use)
            case {"contentBlockDelta": {"delta": dict() as delta, **rest}}:
                return self._role() + self._delta(_block(rest), delta)
            case {"contentBlockStop": dict() as stop}:
                return self._block_stop(_block(stop))
            case {"messageStop": dict() as stop}:
                return self._message_stop(stop.get("stopReason"))
            case {"metadata": dict() as meta}:
                self.usage = clean_usage(meta.get("usage")) or self.usage
                return self._final_chunks() if self.finish_reason else []
        return []  # unknown events (and ones we do not map) are ignored

    def finish(self) -> list[dict[str, Any]]:
        """End of upstream: a stream without messageStop is truncated, never a success (PITFALLS #26)."""
        if self.finish_reason is None:
            raise StreamIncomplete(
                "the upstream stream ended before the response was complete", code="stream_incomplete"
            )
        return self._final_chunks()  # no metadata event -> no usage chunk: usage is never invented

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        chunk = {
            **self._base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if self.request.include_usage:
            chunk["usage"] = None
        return chunk

    def _role(self) -> list[dict[str, Any]]:
        if self._role_sent:
            return []
        self._role_sent = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def _tool_start(self, block: int, use: dict[str, Any]) -> list[dict[str, Any]]:
        name = use.get("name", "")
        if self.request.json_tool and name == self.request.json_tool:
            self._json_blocks.add(block)
            return []
        index = self._tool_index.setdefault(block, len(self._tool_index))
        call = {
            "index": index,
            "id": use.get("toolUseId"),
            "type": "function",
            "function": {"name": self.request.tool_names.get(name, name), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _delta(self, block: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        if "text" in delta:
            return [self._chunk({"content": delta["text"]})] if delta["text"] else []
        if "toolUse" in delta:
            return self._tool_input(block, (delta["toolUse"] or {}).get("input") or "")
        if "reasoningContent" in delta:
            return self._reasoning_delta(block, delta["reasoningContent"] or {})
        return []

    def _tool_input(self, block: int, piece: str) -> list[dict[str, Any]]:
        if not piece:
            return []
        self._has_input.add(block)
        if block in self._json_blocks:
            return [self._chunk({"content": piece})]
        if block not in self._tool_index:  # a delta without its start: nothing to attach it to
            return []
        return [
            self._chunk(
                {"tool_calls": [{"index": self._tool_index[block], "function": {"arguments": piece}}]}
            )
        ]

    def _reasoning_delta(self, block: int, reasoning: dict[str, Any]) -> list[dict[str, Any]]:
        if reasoning.get("text"):
            self._reasoning[block] = self._reasoning.get(block, "") + reasoning["text"]
            return [self._chunk({"reasoning_content": reasoning["text"]})]
        if reasoning.get("signature"):
            entry = {
                "type": "thinking",
                "thinking": self._reasoning.get(block, ""),
                "signature": reasoning["signature"],
            }
        elif reasoning.get("redactedContent"):
            entry = {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
        else:
            return []
        # Each entry is complete; `index` lets list-merging accumulators (openai's .stream()) keep them apart.
        entry["index"] = self._thinking_count
        self._thinking_count += 1
        return [self._chunk({"thinking_blocks": [entry]})]

    def _block_stop(self, block: int) -> list[dict[str, Any]]:
        if block in self._has_input:
            return []
        self._has_input.add(block)  # a repeated stop must not emit "{}" twice
        if block in self._json_blocks:
            return [self._chunk({"content": "{}"})]
        if block in self._tool_index:  # a no-argument call still ends with "{}" (PITFALLS #1)
            return [
                self._chunk(
                    {"tool_calls": [{"index": self._tool_index[block], "function": {"arguments": "{}"}}]}
                )
            ]
        return []

    def _message_stop(self, stop_reason: str | None) -> list[dict[str, Any]]:
        if self.finish_reason is not None:
            return []
        self.finish_reason = response_finish_reason(stop_reason, json_only=not self._tool_index)
        # Converse sends usage (metadata) right after messageStop: the finish chunk waits for it, so the
        # last chunks of a stream go out together, when the gateway knows what the call cost.
        return [*self._role(), *(self._final_chunks() if self.usage is not None else [])]

    def _final_chunks(self) -> list[dict[str, Any]]:
        if self._finish_sent:
            return self._usage_chunk()
        self._finish_sent = True
        return [self._chunk({}, self.finish_reason), *self._usage_chunk()]

    def _usage_chunk(self) -> list[dict[str, Any]]:
        """OpenAI's include_usage chunk: empty choices, full usage, right before [DONE] (PITFALLS #28)."""
        if not self.request.include_usage or self.usage is None or self._usage_sent:
            return []
        self._usage_sent = True
        return [{**self._base, "choices": [], "usage": openai_usage(self.usage)}]


def _block(event: dict[Any, Any]) -> int:
    index = event.get("contentBlockIndex", 0)
    return index if isinstance(index, int) else 0
