"""Anthropic `system` + `messages` -> Converse `system` + alternating `messages` (pure).

`role: "system"` messages were already lifted into the system prompt (common.system_prompt); Claude Code's
billing-header block is dropped here (it means nothing to other models). Same-role neighbours are merged,
toolResult blocks go first in their user turn, and a conversation that starts with the assistant gets a
minimal user turn before it (Converse needs user first).
"""

from __future__ import annotations

from typing import Any

from translators.anthropic_bedrock.common import SystemPrompt, is_billing_block
from translators.anthropic_bedrock.converse_content import content_blocks, text_block
from translators.anthropic_bedrock.errors import TranslationError
from translators.converse_turns import merge_turns
from translators.openai_bedrock.caching import append_point, cache_point
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.documents import finish_documents
from translators.openai_bedrock.mappings import CONVERSATION_START
from translators.openai_bedrock.messages import Conversation, finalize


def _system(value: str | list[Any] | None) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"text": value}] if value.strip() else []
    blocks: list[dict[str, Any]] = []
    for j, block in enumerate(value):
        if is_billing_block(block):
            continue
        if not isinstance(block, dict) or block.get("type") != "text":
            raise TranslationError("system content must be text blocks", param=f"system[{j}]")
        blocks += text_block(block, f"system[{j}]")
        append_point(blocks, cache_point(block, f"system[{j}]"))
    return blocks


def convert_conversation(system: SystemPrompt, caps: ModelCapabilities) -> Conversation:
    conv = Conversation(system=_system(system.value))
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(system.messages):
        role = message["role"]
        blocks = content_blocks(message["content"], f"messages[{i}].content", role, conv, caps)
        if not blocks:
            if role == "user":
                raise TranslationError("message content is empty", param=f"messages[{i}].content")
            continue  # an empty assistant turn (thinking dropped, blank text) says nothing
        turns.append({"role": role, "content": blocks})
    conv.messages = merge_turns(turns)
    finish_documents(conv.messages)
    if not conv.messages:
        raise TranslationError("messages must contain at least one user message", param="messages")
    if conv.messages[0]["role"] == "assistant":
        conv.messages.insert(0, {"role": "user", "content": [{"text": CONVERSATION_START}]})
    finalize(conv, caps)
    return conv
