"""chat-completions `messages` -> Converse `system` + alternating `messages`.

Leading system/developer messages become `system` blocks; later ones stay in place as user-side text so
a cached prompt prefix stays stable (PITFALLS #19). Same-role neighbours are merged (PITFALLS #8, #9).
`cache_control` on a message puts a cache point after its last block; on parts of content that collapses
into one block (tool results, later system messages) it puts one after that block.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from translators.converse_turns import merge_turns
from translators.json_depth import MAX_JSON_DEPTH, depth_exceeds
from translators.openai_bedrock.caching import append_point, cache_point, content_point
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.content import ContentRules, content_blocks, plain_text
from translators.openai_bedrock.documents import decoded_size, finish_documents
from translators.openai_bedrock.errors import TranslationError
from translators.openai_bedrock.mappings import (
    CONVERSATION_START,
    EMPTY_TOOL_RESULT,
    MIDDLE_SYSTEM_PREFIX,
    safe_tool_name,
    safe_tool_use_id,
)

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_SYSTEM_ROLES = frozenset({"system", "developer"})
_ASSISTANT_RULES = ContentRules(image_error="assistant messages cannot contain images")
_SYSTEM_RULES = ContentRules(image_error="system messages cannot contain images")


@dataclass
class Conversation:
    system: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    tool_names: dict[str, str] = field(default_factory=dict)  # safe -> original, from history
    tool_call_ids: set[str] = field(default_factory=set)

    @property
    def has_tool_blocks(self) -> bool:
        return any("toolUse" in b or "toolResult" in b for m in self.messages for b in m["content"])


def _role(message: Any, i: int) -> str:
    role = message.get("role") if isinstance(message, dict) else None
    if not isinstance(role, str) or role not in _ROLES:
        raise TranslationError(
            f"messages[{i}].role must be one of system, developer, user, assistant, tool",
            param=f"messages[{i}].role",
        )
    return role


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; JSON and Bedrock do not


def _arguments(raw: Any, param: str) -> dict[str, Any]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw, parse_constant=_no_constant) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        raise TranslationError("tool call arguments are not valid JSON", param=param) from None
    if not isinstance(value, dict):
        raise TranslationError("tool call arguments must be a JSON object", param=param)
    if depth_exceeds(value, MAX_JSON_DEPTH - 6):  # forwarded as toolUse.input, inside the request body
        raise TranslationError(f"tool call arguments nest more than {MAX_JSON_DEPTH - 6} levels deep",
                               param=param, code="json_too_deep")
    try:  # JSON text may hold what the request body's encoder cannot: ints past 64 bits, lone surrogates
        orjson.dumps(value)
    except TypeError:
        raise TranslationError(
            "tool call arguments hold a value Bedrock cannot carry: an integer beyond 64 bits or an unpaired surrogate",
            param=param,
        ) from None
    return value


def _tool_use_blocks(msg: dict[str, Any], i: int, conv: Conversation, caps: ModelCapabilities) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    calls = msg.get("tool_calls") or []
    if not isinstance(calls, list):
        raise TranslationError("tool_calls must be an array of tool calls", param=f"messages[{i}].tool_calls")
    for j, call in enumerate(calls):
        param = f"messages[{i}].tool_calls[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        call_id = call.get("id") if isinstance(call, dict) else None
        if not isinstance(name, str) or not name or not isinstance(call_id, str) or not call_id:
            raise TranslationError("tool call needs an id and function.name", param=param)
        assert isinstance(fn, dict)  # a string name was found in it above
        args = _arguments(fn.get("arguments"), f"{param}.function.arguments")
        conv.tool_call_ids.add(call_id)
        if not caps.tools:  # PITFALLS #15: models without tools get old tool turns as text
            blocks.append({"text": f"[tool call {call_id}: {name}({json.dumps(args)})]"})
            continue
        safe = safe_tool_name(name)
        conv.tool_names[safe] = name
        blocks.append({"toolUse": {"toolUseId": safe_tool_use_id(call_id), "name": safe, "input": args}})
    return blocks


def _reasoning_items(msg: dict[str, Any], i: int) -> list[tuple[Any, dict[str, str]]]:
    """Each thinking item with the param of each of its fields: LiteLLM's thinking_blocks, or the two fields."""
    items = msg.get("thinking_blocks")
    if isinstance(items, list) and items:
        fields = ("thinking", "signature", "data")
        return [(item, {f: f"messages[{i}].thinking_blocks[{k}].{f}" for f in fields}) for k, item in enumerate(items)]
    item = {"type": "thinking", "thinking": msg.get("reasoning_content"), "signature": msg.get("reasoning_signature")}
    return [(item, {"thinking": f"messages[{i}].reasoning_content", "signature": f"messages[{i}].reasoning_signature"})]


def _string(value: Any, param: str) -> str:
    """A reasoning field as text ("" when absent); Bedrock takes only strings there."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TranslationError(f"{param} must be a string", param=param, code="invalid_type")
    return value


def _reasoning_blocks(msg: dict[str, Any], i: int) -> list[dict[str, Any]]:
    """Thinking history (LiteLLM's thinking_blocks, or reasoning_content + reasoning_signature).

    Unsigned reasoning text is dropped: Bedrock cannot verify it and rejects it (PITFALLS #23).
    """
    blocks: list[dict[str, Any]] = []
    for item, params in _reasoning_items(msg, i):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "redacted_thinking":
            data = _string(item.get("data"), params["data"])
            if data:  # Bedrock's redactedContent is a blob: base64 text that must decode
                decoded_size(data, params["data"], "redacted thinking")
                blocks.append({"reasoningContent": {"redactedContent": data}})
        elif kind == "thinking":
            text = _string(item.get("thinking"), params["thinking"])
            signature = _string(item.get("signature"), params["signature"])
            if text and signature:
                blocks.append({"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}})
    return blocks


def _assistant(msg: dict[str, Any], i: int, conv: Conversation, caps: ModelCapabilities) -> list[dict[str, Any]]:
    blocks = _reasoning_blocks(msg, i) if caps.reasoning else []
    blocks += content_blocks(msg.get("content"), f"messages[{i}].content", _ASSISTANT_RULES)
    return blocks + _tool_use_blocks(msg, i, conv, caps)


def _tool(msg: dict[str, Any], i: int, conv: Conversation, caps: ModelCapabilities) -> list[dict[str, Any]]:
    call_id = msg.get("tool_call_id")
    if not isinstance(call_id, str) or call_id not in conv.tool_call_ids:
        raise TranslationError(
            f"tool message refers to tool_call_id {call_id!r}, which matches no earlier assistant tool call",
            param=f"messages[{i}].tool_call_id",
        )
    point = content_point(msg.get("content"), f"messages[{i}].content")  # cachePoint is not toolResult content
    if not caps.tools:
        text = plain_text(msg.get("content")) or EMPTY_TOOL_RESULT
        blocks: list[dict[str, Any]] = [{"text": f"[tool result {call_id}]: {text}"}]
    else:
        rules = ContentRules(caps.tool_result_images, "this model does not accept images in tool results")
        content = content_blocks(msg.get("content"), f"messages[{i}].content", rules)
        content = [b for b in content if "cachePoint" not in b]
        result = {"toolUseId": safe_tool_use_id(call_id), "content": content or [{"text": EMPTY_TOOL_RESULT}]}
        blocks = [{"toolResult": result}]
    append_point(blocks, point)
    return blocks


def _blocks(
    msg: dict[str, Any], role: str, i: int, conv: Conversation, caps: ModelCapabilities
) -> list[dict[str, Any]]:
    if role in _SYSTEM_ROLES:
        text = plain_text(msg.get("content"))
        blocks = [{"text": MIDDLE_SYSTEM_PREFIX + text}] if text.strip() else []
        append_point(blocks, content_point(msg.get("content"), f"messages[{i}].content"))
        return blocks
    if role == "assistant":
        return _assistant(msg, i, conv, caps)
    if role == "tool":
        return _tool(msg, i, conv, caps)
    rules = ContentRules(caps.vision, documents=caps.documents, document_error="this model does not accept documents")
    blocks = content_blocks(msg.get("content"), f"messages[{i}].content", rules)
    if not blocks:
        raise TranslationError("message content is empty", param=f"messages[{i}].content")
    return blocks


def _turn(msg: dict[str, Any], role: str, i: int, conv: Conversation, caps: ModelCapabilities) -> dict[str, Any] | None:
    blocks = _blocks(msg, role, i, conv, caps)
    append_point(blocks, cache_point(msg, f"messages[{i}]"))
    if not blocks:
        return None  # an empty assistant or later system message is dropped
    return {"role": "assistant" if role == "assistant" else "user", "content": blocks}


def _leading_system(messages: list[Any]) -> tuple[list[dict[str, Any]], int]:
    blocks: list[dict[str, Any]] = []
    i = 0
    while i < len(messages) and _role(messages[i], i) in _SYSTEM_ROLES:
        message_blocks = content_blocks(messages[i].get("content"), f"messages[{i}].content", _SYSTEM_RULES)
        append_point(message_blocks, cache_point(messages[i], f"messages[{i}]"))
        blocks += message_blocks
        i += 1
    return blocks, i


def convert_messages(messages: Any, caps: ModelCapabilities) -> Conversation:
    if not isinstance(messages, list) or not messages:
        raise TranslationError("'messages' must be a non-empty list", param="messages")
    conv = Conversation()
    conv.system, start = _leading_system(messages)
    turns = []
    for i in range(start, len(messages)):
        turn = _turn(messages[i], _role(messages[i], i), i, conv, caps)
        if turn is not None:
            turns.append(turn)
    conv.messages = merge_turns(turns)
    finish_documents(conv.messages)
    if not conv.messages:
        raise TranslationError("messages must contain at least one user message", param="messages")
    if conv.messages[0]["role"] == "assistant":  # Converse must start with a user turn
        conv.messages.insert(0, {"role": "user", "content": [{"text": CONVERSATION_START}]})
    return conv


def finalize(conv: Conversation, caps: ModelCapabilities) -> None:
    """Place system text for models without `system`; check and trim a trailing assistant prefill."""
    if conv.system and not caps.system:
        conv.messages[0]["content"][:0] = conv.system
        conv.system = []
    last = conv.messages[-1]
    if last["role"] != "assistant" or any("toolUse" in b for b in last["content"]):
        return
    if not caps.prefill:
        raise TranslationError(
            "the last message is from the assistant (prefill), which this model does not support; "
            "end the conversation with a user message",
            param="messages",
        )
    end = len(last["content"]) - 1
    if "cachePoint" in last["content"][end]:
        end -= 1  # content never starts with a cache point
    text = last["content"][end].get("text")
    if text is not None:  # Bedrock rejects a final assistant text with trailing whitespace
        last["content"][end] = {"text": text.rstrip()}
