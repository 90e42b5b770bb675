"""converse_response_to_anthropic: a Converse response -> an Anthropic Message (pure).

Stop reasons: end_turn, tool_use, max_tokens and stop_sequence keep their names; Bedrock's guardrail and
content-filter stops are Anthropic's "refusal"; model_context_window_exceeded is "max_tokens" (what clients
without the newer value understand); anything else (malformed_model_output, ...) is "end_turn".
Usage: Converse inputTokens excludes cache reads and writes, as Anthropic's input_tokens does.
"""

from __future__ import annotations

from typing import Any

from translators.anthropic_bedrock.converse import AnthropicConverseRequest
from translators.openai_bedrock.response import converse_usage
from translators.usage import Usage

STOP_REASONS: dict[str, str] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "max_tokens",
}


def stop_reason(converse_reason: Any) -> str:
    return STOP_REASONS.get(converse_reason if isinstance(converse_reason, str) else "", "end_turn")


def stop_sequence(reason: str, request: AnthropicConverseRequest) -> str | None:
    """Converse does not say which stop sequence matched; with exactly one asked for, it is that one."""
    if reason == "stop_sequence" and len(request.stop_sequences) == 1:
        return request.stop_sequences[0]
    return None


def usage_block(usage: Usage | None, *, input_estimate: int = 0) -> dict[str, int]:
    """Anthropic's usage object; before Bedrock reports usage, input_tokens is the gateway's estimate."""
    if usage is None:
        return {"input_tokens": input_estimate, "output_tokens": 0,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }


def thinking_block(reasoning: dict[str, Any]) -> dict[str, Any]:
    if "redactedContent" in reasoning:
        return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
    text = reasoning.get("reasoningText") or {}
    return {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}


def content_block(block: Any, request: AnthropicConverseRequest) -> dict[str, Any] | None:
    if not isinstance(block, dict):
        return None
    if isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    if isinstance(block.get("toolUse"), dict):
        use = block["toolUse"]
        name = use.get("name", "")
        args = use.get("input")
        return {
            "type": "tool_use",
            "id": use.get("toolUseId", ""),
            "name": request.tool_names.get(name, name),
            "input": args if isinstance(args, dict) else {},
        }
    if isinstance(block.get("reasoningContent"), dict):
        return thinking_block(block["reasoningContent"])
    return None  # citations, images and other blocks Anthropic's message has no twin for


def converse_response_to_anthropic(
    resp: dict[str, Any], *, request: AnthropicConverseRequest, model: str, message_id: str
) -> dict[str, Any]:
    blocks = ((resp.get("output") or {}).get("message") or {}).get("content") or []
    content = [b for b in (content_block(block, request) for block in blocks) if b is not None]
    reason = stop_reason(resp.get("stopReason"))
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": stop_sequence(reason, request),
        "usage": usage_block(converse_usage(resp.get("usage")) or Usage()),
    }
