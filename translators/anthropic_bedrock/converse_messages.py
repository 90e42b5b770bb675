"""Anthropic `system` + `messages` -> Converse `system` + alternating `messages` (pure).

`role: "system"` messages were already lifted into the system prompt (common.system_prompt) and are skipped
here, so errors name the client's own indices; Claude Code's billing-header block is dropped (it means nothing
to other models). Same-role neighbours are merged, toolResult blocks go first in their user turn, and a
conversation that starts with the assistant gets a minimal user turn before it (Converse needs user first).
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


def _system(system: SystemPrompt) -> list[dict[str, Any]]:
    value = system.value
    if value is None:
        return []
    if isinstance(value, str):
        return [{"text": value}] if value.strip() else []
    blocks: list[dict[str, Any]] = []
    for block, where in zip(value, system.origins, strict=True):
        if is_billing_block(block):
            continue
        if not isinstance(block, dict) or block.get("type") != "text":
            raise TranslationError("system content must be text blocks", param=where)
        blocks += text_block(block, where)
        append_point(blocks, cache_point(block, where))
    return blocks


def convert_conversation(system: SystemPrompt, messages: list[Any], caps: ModelCapabilities) -> Conversation:
    """`messages` as the client sent them (errors name its indices); `role: system` ones are in `system` already."""
    conv = Conversation(system=_system(system))
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "system":
            continue
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
