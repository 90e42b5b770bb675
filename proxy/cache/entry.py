"""CachedAnswer: one stored chat answer, its byte encoding, and its replay as a completion or a stream.

Stored without gateway_metadata (it describes one call: the hit gets its own). Decoding never raises:
garbage, a truncated value, or another version reads as a miss.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

import orjson

from translators.usage import Usage, openai_usage_block

ENTRY_VERSION = 1
USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Usage))
T = TypeVar("T")


@dataclass(frozen=True)
class CachedAnswer:
    completion: dict[str, Any]  # the chat.completion body (for a streamed original: assembled from it)
    chunks: list[dict[str, Any]] | None  # the original stream's chunks, when the original was a stream
    usage: Usage  # what the original call consumed
    cost_usd: Decimal  # what the original call cost: the saving of each hit
    deployment: str
    provider: str
    created_at: float  # time.time() of the original call

    def encode(self) -> bytes:
        return orjson.dumps({
            "v": ENTRY_VERSION,
            "completion": self.completion,
            "chunks": self.chunks,
            "usage": {name: getattr(self.usage, name) for name in USAGE_FIELDS},
            "cost_usd": str(self.cost_usd),  # a string: a JSON float would lose the nano-dollars
            "deployment": self.deployment,
            "provider": self.provider,
            "created_at": self.created_at,
        })

    @classmethod
    def decode(cls, raw: bytes | str | None) -> CachedAnswer | None:
        try:
            data = orjson.loads(raw) if raw is not None else None
            if not isinstance(data, dict) or type(data.get("v")) is not int or data["v"] != ENTRY_VERSION:
                return None
            return _from_dict(data)
        except (orjson.JSONDecodeError, InvalidOperation, TypeError, ValueError):
            return None


def _from_dict(data: dict[str, Any]) -> CachedAnswer | None:
    completion, chunks, usage = data.get("completion"), data.get("chunks"), data.get("usage")
    if not isinstance(completion, dict) or not isinstance(usage, dict):
        return None
    if chunks is not None and not (isinstance(chunks, list) and all(isinstance(c, dict) for c in chunks)):
        return None
    counts = {name: usage.get(name, 0) for name in USAGE_FIELDS}
    if not all(type(v) is int and v >= 0 for v in counts.values()):
        return None
    deployment, provider, created_at = data.get("deployment"), data.get("provider"), data.get("created_at")
    if not (isinstance(deployment, str) and isinstance(provider, str)):
        return None
    if not isinstance(created_at, int | float) or isinstance(created_at, bool):
        return None
    cost = Decimal(data["cost_usd"]) if isinstance(data.get("cost_usd"), str) else None
    if cost is None or not cost.is_finite():
        return None
    return CachedAnswer(completion=completion, chunks=chunks, usage=Usage(**counts), cost_usd=cost,
                        deployment=deployment, provider=provider, created_at=float(created_at))


def assemble_completion(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI chunks -> the one chat.completion they stream (choice 0: the cache never stores n > 1).

    Content, refusal and reasoning text are concatenated; tool calls are merged by their `index`, with
    their argument pieces concatenated; id, created, model (and other top-level fields) come from the
    first chunk; usage from the chunk that carries it (the include_usage chunk), when there is one.
    """
    first = chunks[0] if chunks else {}
    top = {k: v for k, v in first.items() if k not in ("object", "choices", "usage", "gateway_metadata")}
    texts: dict[str, list[str]] = {"content": [], "refusal": [], "reasoning_content": []}
    tools: dict[int, dict[str, Any]] = {}
    thinking: list[dict[str, Any]] = []
    finish, usage = None, None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            for name, parts in texts.items():
                if delta.get(name):
                    parts.append(delta[name])
            for piece in delta.get("tool_calls") or ():
                _merge_tool_call(tools, piece)
            thinking.extend({k: v for k, v in b.items() if k != "index"} for b in delta.get("thinking_blocks") or ())
            finish = choice.get("finish_reason") or finish
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts["content"]) if texts["content"] else None,
                               "refusal": "".join(texts["refusal"]) if texts["refusal"] else None}
    if tools:
        message["tool_calls"] = [tools[i] for i in sorted(tools)]
    if texts["reasoning_content"]:
        message["reasoning_content"] = "".join(texts["reasoning_content"])
    if thinking:
        message["thinking_blocks"] = thinking
    completion = {**top, "object": "chat.completion",
                  "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]}
    if usage is not None:
        completion["usage"] = usage
    return completion


def _merge_tool_call(tools: dict[int, dict[str, Any]], piece: dict[str, Any]) -> None:
    """The first piece of a call brings id, type and name; later pieces add argument text."""
    function = piece.get("function") or {}
    call = tools.setdefault(piece.get("index", 0), {"id": None, "type": "function",
                                                     "function": {"name": "", "arguments": ""}})
    if piece.get("id") and not call["id"]:
        call["id"] = piece["id"]
    if piece.get("type"):
        call["type"] = piece["type"]
    if function.get("name") and not call["function"]["name"]:
        call["function"]["name"] = function["name"]
    call["function"]["arguments"] += function.get("arguments") or ""


def replay_completion(answer: CachedAnswer, *, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """A fresh chat.completion for a hit: the new call's id, created and model; usage as the original's."""
    completion = _copy(answer.completion)
    completion.update(id=completion_id, created=created, model=model, object="chat.completion")
    completion["usage"] = _usage_block(answer)
    return completion


def replay_chunks(answer: CachedAnswer, *, completion_id: str, created: int, model: str,
                  include_usage: bool) -> list[dict[str, Any]]:
    """The stream to send for a hit: the stored chunks, or chunks synthesised from the completion.

    Either way the chunks carry the new call's id, created and model. Per OpenAI's streaming doc, with
    include_usage every chunk has `usage: null` and one last chunk with empty choices carries the usage;
    without it, no chunk mentions usage, whatever the original request asked for.
    """
    base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
    if answer.chunks:
        chunks = [{k: v for k, v in c.items() if k not in ("usage", "gateway_metadata")}
                  for c in _copy(answer.chunks) if c.get("choices")]  # the original's usage chunk is rebuilt below
    else:
        chunks = _synthesised(answer.completion)
    out = [{**chunk, **base, **({"usage": None} if include_usage else {})} for chunk in chunks]
    if include_usage:
        extra = {k: v for k, v in (chunks[0] if chunks else {}).items() if k == "system_fingerprint"}
        out.append({**base, **extra, "choices": [], "usage": _usage_block(answer)})
    return out


def _synthesised(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """Role, reasoning, content, one chunk per tool call, then the finish chunk."""
    completion = _copy(completion)
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    top = {k: v for k, v in completion.items() if k not in ("object", "choices", "usage", "gateway_metadata")}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message.get("reasoning_content"):
        deltas.append({"reasoning_content": message["reasoning_content"]})
    if message.get("thinking_blocks"):
        deltas.append({"thinking_blocks": [{**b, "index": i} for i, b in enumerate(message["thinking_blocks"])]})
    if message.get("content"):
        deltas.append({"content": message["content"]})
    if message.get("refusal"):
        deltas.append({"refusal": message["refusal"]})
    deltas += [{"tool_calls": [{"index": i, **call}]} for i, call in enumerate(message.get("tool_calls") or ())]
    chunks = [{**top, "choices": [{"index": 0, "delta": d, "finish_reason": None, "logprobs": None}]} for d in deltas]
    chunks.append({**top, "choices": [{"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason"),
                                       "logprobs": None}]})
    return chunks


def _usage_block(answer: CachedAnswer) -> Any:
    stored = answer.completion.get("usage")
    return _copy(stored) if isinstance(stored, dict) else openai_usage_block(answer.usage)


def _copy(value: T) -> T:
    """A deep copy (orjson's round trip is several times faster than copy.deepcopy): callers mutate replies."""
    return cast(T, orjson.loads(orjson.dumps(value)))
