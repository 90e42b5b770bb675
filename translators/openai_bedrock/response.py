"""converse_response_to_openai and openai_usage: a Converse response -> a chat.completion (pure)."""

from __future__ import annotations

import json
from typing import Any

from translators.openai_bedrock.mappings import finish_reason
from translators.openai_bedrock.request import ConverseRequest
from translators.usage import Usage, openai_usage_block

USAGE_KEYS = ("inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens", "cacheWriteInputTokens")


def clean_usage(raw: Any) -> dict[str, int] | None:
    """Bedrock's usage block as non-negative ints; None when there is none.

    Billing code downstream does arithmetic on these numbers: a value that is not a count (null, a
    string, a negative number) is read as 0 rather than crash the bookkeeping of a call Bedrock billed.
    """
    if not isinstance(raw, dict):
        return None
    clean = {}
    for key in USAGE_KEYS:
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            clean[key] = value
        elif key in raw:
            clean[key] = 0
    return clean


def converse_usage(raw: Any) -> Usage | None:
    """Bedrock's usage block as neutral Usage (odd values read as 0, see clean_usage); None when absent."""
    clean = clean_usage(raw)
    if clean is None:
        return None
    return Usage(
        input_tokens=clean.get("inputTokens", 0),
        output_tokens=clean.get("outputTokens", 0),
        cache_read_tokens=clean.get("cacheReadInputTokens", 0),
        cache_write_tokens=clean.get("cacheWriteInputTokens", 0),
    )


def openai_usage(bedrock_usage: dict[str, Any]) -> dict[str, Any]:
    """prompt_tokens includes cache reads and writes; cached_tokens = cache reads (PITFALLS #35)."""
    return openai_usage_block(converse_usage(bedrock_usage) or Usage())


def compact_json(value: Any) -> str:
    return json.dumps(value if value is not None else {}, separators=(",", ":"), ensure_ascii=False)


def response_finish_reason(stop_reason: str | None, *, json_only: bool) -> str:
    """The forced JSON tool is an answer, not a tool call: its tool_use stop is a normal "stop"."""
    reason = finish_reason(stop_reason)
    return "stop" if reason == "tool_calls" and json_only else reason


def _thinking_block(reasoning: dict[str, Any]) -> dict[str, Any] | None:
    if "redactedContent" in reasoning:
        return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
    text = reasoning.get("reasoningText") or {}
    block = {"type": "thinking", "thinking": text.get("text", "")}
    if text.get("signature"):
        block["signature"] = text["signature"]
    return block


def _message(blocks: list[dict[str, Any]], request: ConverseRequest) -> tuple[dict[str, Any], bool]:
    """The assistant message, and whether it carries real (non-JSON-tool) tool calls."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for block in blocks:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            if use.get("name") == request.json_tool and request.json_tool:
                texts.append(compact_json(use.get("input")))
                continue
            name = request.tool_names.get(use.get("name", ""), use.get("name", ""))
            calls.append(
                {
                    "id": use.get("toolUseId"),
                    "type": "function",
                    "function": {"name": name, "arguments": compact_json(use.get("input"))},
                }
            )
        elif "reasoningContent" in block and (entry := _thinking_block(block["reasoningContent"])) is not None:
            thinking.append(entry)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    reasoning = "".join(b.get("thinking", "") for b in thinking)
    if reasoning:
        message["reasoning_content"] = reasoning
    if thinking:
        message["thinking_blocks"] = thinking
    return message, bool(calls)


def converse_response_to_openai(
    resp: dict[str, Any], *, request: ConverseRequest, model: str, completion_id: str, created: int
) -> dict[str, Any]:
    blocks = ((resp.get("output") or {}).get("message") or {}).get("content") or []
    message, has_calls = _message(blocks, request)
    reason = response_finish_reason(resp.get("stopReason"), json_only=not has_calls)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "finish_reason": reason, "logprobs": None}],
        "usage": openai_usage(clean_usage(resp.get("usage")) or {}),
    }
