"""The emulated model: a deterministic reply (content blocks, stopReason, usage) for a Converse request.

Everything derives from the request (no clock, no randomness), so tests can predict every byte.
Token counts are ceil(characters / 4) — crude, but stable and monotone like a real tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from bedrock_emulator.directives import Directives, parse_directives, strip_directives

TOOL_STRING_VALUE = "Paris"
_TOOL_WORDS = ("weather",)


@dataclass
class Reply:
    blocks: list[dict[str, Any]] = field(default_factory=list)   # Converse content blocks, in order
    stop_reason: str = "end_turn"
    usage: dict[str, int] = field(default_factory=dict)
    stop_sequence: str | None = None   # the stop sequence that cut the text (stop_reason stop_sequence)


def tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def last_user_text(body: dict) -> tuple[str, list[dict]]:
    """Text of the last user turn and its toolResult blocks."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content") or []
            text = "\n".join(b["text"] for b in content if isinstance(b.get("text"), str))
            return text, [b["toolResult"] for b in content if "toolResult" in b]
    return "", []


def build_reply(body: dict, directives: Directives | None = None) -> Reply:
    text, results = last_user_text(body)
    found = directives or parse_directives(text)
    reply = Reply()
    if _thinking_enabled(body) or found.thinking:
        reply.blocks.append(_reasoning_block(text))
    tool_blocks = _tool_blocks(body, text, results, found)
    # Native structured output: the text itself is the JSON (an empty object unless EMULATOR:reply= says).
    structured = bool((body.get("outputConfig") or {}).get("textFormat")) and found.reply is None
    answer = "{}" if structured else _answer_text(text, results, found)
    if tool_blocks:
        if found.text_before_tool:
            reply.blocks.append({"text": "Let me call a tool for that."})
        reply.blocks.extend(tool_blocks)
        reply.stop_reason = "tool_use"
    else:
        answer, reply.stop_reason, reply.stop_sequence = _apply_limits(answer, body.get("inferenceConfig") or {})
        reply.blocks.append({"text": answer})
    if found.stop:
        reply.stop_reason = found.stop
    if reply.stop_reason != "stop_sequence":
        reply.stop_sequence = None
    reply.usage = usage_for(body, reply.blocks, found)
    return reply


def _answer_text(text: str, results: list[dict], found: Directives) -> str:
    if found.reply is not None:
        return found.reply
    if found.words:
        return " ".join(f"word{i}" for i in range(1, found.words + 1))
    if results and not strip_directives(text):
        return "Result: " + _result_text(results[0])
    return f"Echo: {strip_directives(text)[:200]}"


def _result_text(result: dict) -> str:
    parts = []
    for block in result.get("content") or []:
        if "text" in block:
            parts.append(block["text"])
        elif "json" in block:
            parts.append(orjson.dumps(block["json"]).decode())
    return " ".join(parts)[:200]


def _apply_limits(answer: str, config: dict) -> tuple[str, str, str | None]:
    stop_reason, matched = "end_turn", None
    cuts = [(answer.find(s), s) for s in config.get("stopSequences") or [] if s in answer]
    if cuts:
        position, matched = min(cuts)
        answer = answer[:position]
        stop_reason = "stop_sequence"
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and tokens(len(answer)) > max_tokens:
        answer = answer[: max_tokens * 4]
        stop_reason, matched = "max_tokens", None
    return answer, stop_reason, matched


def _thinking_enabled(body: dict) -> bool:
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in {"enabled", "adaptive"}


def _reasoning_block(text: str) -> dict:
    thought = f"The user wrote {len(text)} characters; I will answer deterministically."
    signature = "emu-sig-" + hashlib.sha256(thought.encode()).hexdigest()[:32]
    return {"reasoningContent": {"reasoningText": {"text": thought, "signature": signature}}}


def _tool_blocks(body: dict, text: str, results: list[dict], found: Directives) -> list[dict]:
    config = body.get("toolConfig") or {}
    specs = [t["toolSpec"] for t in config.get("tools") or [] if "toolSpec" in t]
    if not specs:
        return []
    choice = config.get("toolChoice") or {}
    forced = "any" in choice or "tool" in choice
    asked = found.tool or any(word in text.lower() for word in _TOOL_WORDS)
    if not forced and not (asked and not results):
        return []
    spec = specs[0]
    if "tool" in choice:
        spec = next(s for s in specs if s["name"] == choice["tool"]["name"])
    count = max(1, found.parallel_tools)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    tool_input = _reply_object(found) or schema_example(spec.get("inputSchema", {}).get("json") or {})
    return [
        {"toolUse": {"toolUseId": f"tooluse_{digest}_{i}", "name": spec["name"], "input": tool_input}}
        for i in range(count)
    ]


def _reply_object(found: Directives) -> dict | None:
    """A JSON-object `reply` directive doubles as the tool input (JSON mode answers come as a forced tool)."""
    try:
        value = json.loads(found.reply) if found.reply else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def schema_example(schema: dict) -> Any:
    """A deterministic value satisfying a simple JSON schema (required properties filled)."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: schema_example(props.get(name) or {}) for name in schema.get("required") or []}
    simple = {"string": TOOL_STRING_VALUE, "integer": 1, "number": 1.5, "boolean": True, "null": None}
    if kind == "array":
        return [schema_example(schema.get("items") or {})] if schema.get("minItems") else []
    return simple.get(kind, TOOL_STRING_VALUE) if isinstance(kind, str) else TOOL_STRING_VALUE


def usage_for(body: dict, blocks: list[dict], found: Directives) -> dict[str, int]:
    """Converse usage for ``blocks`` answering ``body``: every path (Converse, InvokeModel, CountTokens) uses it."""
    if found.usage is not None:
        inp, out = found.usage
        return {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out}
    cached, total = _input_chars(body)
    out = tokens(sum(len(orjson.dumps(b)) if "toolUse" in b else len(_block_text(b)) for b in blocks))
    usage = {"inputTokens": tokens(total - cached), "outputTokens": out}
    usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    if cached:
        # The prefix up to the last cache point was "seen before" (a read) unless EMULATOR:cache_write says
        # this is the first time (a write).
        read, write = (0, tokens(cached)) if found.cache_write else (tokens(cached), 0)
        usage["cacheReadInputTokens"] = read
        usage["cacheWriteInputTokens"] = write
        usage["totalTokens"] += read + write
    return usage


def _block_text(block: dict) -> str:
    if "text" in block:
        return block["text"]
    return block.get("reasoningContent", {}).get("reasoningText", {}).get("text", "")


def _input_chars(body: dict) -> tuple[int, int]:
    """(characters before the last cachePoint, all characters) over tools, system and messages."""
    total = cached = 0
    tools = (body.get("toolConfig") or {}).get("tools") or []
    blocks: list[dict] = [*tools, *(body.get("system") or [])]
    for message in body.get("messages") or []:
        blocks.extend(message.get("content") or [])
    for block in blocks:
        if "cachePoint" in block:
            cached = total
        elif "text" in block:
            total += len(block["text"])
        else:
            total += len(orjson.dumps(block))
    return cached, total
