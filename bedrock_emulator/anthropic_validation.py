"""Checks Bedrock makes on an Anthropic Messages body sent to InvokeModel / InvokeModelWithResponseStream.

Bedrock first checks the body against its JSON schema ("Malformed input request: #: ..."), then Claude
checks the conversation (Anthropic's own texts, e.g. "messages: roles must alternate ..."). The messages
here are shortened paraphrases of both, with the fragments clients and tests match on kept verbatim.
"""

from __future__ import annotations

import re
from typing import Any

from bedrock_emulator.validation import RequestInvalid

ANTHROPIC_VERSION = "bedrock-2023-05-31"
# The anthropic_beta values Bedrock's Claude models accept; anything else answers "invalid beta flag".
KNOWN_BETAS = frozenset({
    "computer-use-2024-10-22",
    "computer-use-2025-01-24",
    "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14",
    "output-128k-2025-02-19",
    "dev-full-thinking-2025-05-14",
    "context-1m-2025-08-07",
    "context-management-2025-06-27",
    "effort-2025-11-24",
    "tool-examples-2025-10-29",
    "tool-search-tool-2025-10-19",
})
REQUIRED_KEYS = ("anthropic_version", "max_tokens", "messages")
ALLOWED_KEYS = frozenset({
    *REQUIRED_KEYS, "anthropic_beta", "system", "tools", "tool_choice", "thinking", "stop_sequences",
    "temperature", "top_p", "top_k", "metadata", "output_config", "context_management",
})
MAX_CACHE_BREAKPOINTS = 4
MIN_THINKING_BUDGET = 1024
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOOL_CHOICES = frozenset({"auto", "any", "tool", "none"})
_THINKING_TYPES = frozenset({"enabled", "disabled", "adaptive"})
_CACHE_TTLS = frozenset({"5m", "1h"})
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_USER_ONLY = frozenset({"tool_result", "image", "document"})
_ASSISTANT_ONLY = frozenset({"tool_use", "thinking", "redacted_thinking"})


def malformed(detail: str) -> RequestInvalid:
    return RequestInvalid(f"Malformed input request: {detail}, please reformat your input and try again.")


def validate_messages_body(body: Any) -> None:
    """Raise ``RequestInvalid`` (a 400 ValidationException) where Bedrock would reject the body."""
    if not isinstance(body, dict):
        raise malformed(f"#: expected type: JSONObject, found: {type(body).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in body]
    if missing:
        raise malformed("#: " + ", ".join(f"required key [{key}] not found" for key in missing))
    extra = sorted(set(body) - ALLOWED_KEYS)
    if extra:
        raise malformed("#: " + ", ".join(f"extraneous key [{key}] is not permitted" for key in extra))
    if body["anthropic_version"] != ANTHROPIC_VERSION:
        raise RequestInvalid(f"Invalid API version: {body['anthropic_version']}")
    _check_betas(body.get("anthropic_beta"))
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise malformed(f"#/max_tokens: expected type: Integer, found: {type(max_tokens).__name__}")
    if max_tokens < 1:
        raise RequestInvalid("max_tokens: Input should be greater than or equal to 1")
    _check_sampling(body)
    _check_system(body.get("system"))
    tool_names = _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), tool_names, "tools" in body)
    _check_thinking(body)
    _check_messages(body["messages"], bool(tool_names))
    _check_cache_breakpoints(body)


def _check_betas(betas: Any) -> None:
    if betas is None:
        return
    if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
        raise malformed("#/anthropic_beta: expected type: JSONArray of strings")
    if any(beta not in KNOWN_BETAS for beta in betas):
        raise RequestInvalid("invalid beta flag")


def _check_sampling(body: dict) -> None:
    for key, top in (("temperature", 1.0), ("top_p", 1.0)):
        value = body.get(key)
        if value is not None and (not _is_number(value) or not 0 <= value <= top):
            raise malformed(f"#/{key}: expected a number between 0 and {top:g}, found: {value!r}")
    top_k = body.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0):
        raise malformed(f"#/top_k: expected a non-negative integer, found: {top_k!r}")
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise malformed("#/stop_sequences: expected type: JSONArray of strings")
        if any(not s.strip() for s in stops):
            raise RequestInvalid("stop_sequences: each stop sequence must contain non-whitespace")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise malformed("#/metadata: expected type: JSONObject")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_system(system: Any) -> None:
    if system is None:
        return
    if isinstance(system, str):
        return
    if not isinstance(system, list):
        raise malformed("#/system: expected type: String or JSONArray")
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise RequestInvalid(f"system.{index}.type: Input should be 'text'")
        _check_text(block, f"system.{index}")
        _check_cache_control(block, f"system.{index}")


def _check_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise malformed("#/tools: expected type: JSONArray")
    names: set[str] = set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise malformed(f"#/tools/{index}: expected type: JSONObject")
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise RequestInvalid(f"tools.{index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        if name in names:
            raise RequestInvalid("tools: Tool names must be unique.")
        names.add(name)
        if tool.get("type", "custom") == "custom":   # server tools (bash_…, computer_…) carry no schema
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise RequestInvalid(f"tools.{index}.custom.input_schema: Field required")
            if schema.get("type") != "object":
                raise RequestInvalid(f"tools.{index}.custom.input_schema.type: Input should be 'object'")
            if "description" in tool and not isinstance(tool["description"], str):
                raise RequestInvalid(f"tools.{index}.custom.description: Input should be a valid string")
        _check_cache_control(tool, f"tools.{index}")
    return names


def _check_tool_choice(choice: Any, names: set[str], has_tools: bool) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        raise RequestInvalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if not has_tools and choice["type"] != "none":
        raise RequestInvalid("tool_choice may only be specified while providing tools.")
    if choice["type"] == "tool" and choice.get("name") not in names:
        raise RequestInvalid(f"tool_choice.name: Tool '{choice.get('name')}' not found in tools")


def _check_thinking(body: dict) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in _THINKING_TYPES:
        raise RequestInvalid("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
    if thinking["type"] == "disabled":
        return
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            raise RequestInvalid("thinking.enabled.budget_tokens: Field required")
        if budget < MIN_THINKING_BUDGET:
            raise RequestInvalid(
                f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_THINKING_BUDGET}"
            )
        interleaved = "interleaved-thinking-2025-05-14" in (body.get("anthropic_beta") or [])
        if budget >= body["max_tokens"] and not interleaved:
            raise RequestInvalid("`max_tokens` must be greater than `thinking.budget_tokens`.")
    if body.get("temperature") not in (None, 1, 1.0):
        raise RequestInvalid("`temperature` may only be set to 1 when thinking is enabled.")
    if body.get("top_k") is not None:
        raise RequestInvalid("`top_k` must be unset when thinking is enabled.")
    top_p = body.get("top_p")
    if top_p is not None and top_p < 0.95:
        raise RequestInvalid("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled.")
    if (body.get("tool_choice") or {}).get("type") in {"any", "tool"}:
        raise RequestInvalid("Thinking may not be enabled when tool_choice forces tool use.")


def _check_messages(messages: Any, has_tools: bool) -> None:
    if not isinstance(messages, list):
        raise malformed("#/messages: expected type: JSONArray")
    if not messages:
        raise RequestInvalid("messages: at least one message is required")
    pending: list[str] = []   # tool_use ids of the previous assistant turn
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise RequestInvalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        role = message["role"]
        if index == 0 and role != "user":
            raise RequestInvalid('messages: first message must use the "user" role')
        if index and role == messages[index - 1].get("role"):
            raise RequestInvalid(
                f'messages: roles must alternate between "user" and "assistant", but found multiple "{role}" '
                "roles in a row"
            )
        final = index == len(messages) - 1
        blocks = _content_blocks(message, index, final)
        for number, block in enumerate(blocks):
            _check_content_block(block, role, f"messages.{index}.content.{number}", has_tools)
        if final and role == "assistant" and blocks and blocks[-1].get("type") == "text" \
                and blocks[-1]["text"] != blocks[-1]["text"].rstrip():
            raise RequestInvalid("messages: final assistant content cannot end with trailing whitespace")
        if role == "user":
            _check_tool_results(index, blocks, pending)
            pending = []
        else:
            pending = [str(b["id"]) for b in blocks if b.get("type") == "tool_use"]


def _content_blocks(message: dict, index: int, final: bool) -> list[dict]:
    content = message.get("content")
    if isinstance(content, str):
        if not content and not (final and message["role"] == "assistant"):
            raise RequestInvalid(
                f"messages.{index}: all messages must have non-empty content except for the optional final "
                "assistant message"
            )
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise malformed(f"#/messages/{index}/content: expected type: String or JSONArray")
    if not content and not (final and message["role"] == "assistant"):
        raise RequestInvalid(
            f"messages.{index}: all messages must have non-empty content except for the optional final "
            "assistant message"
        )
    for number, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise RequestInvalid(f"messages.{index}.content.{number}: Input should be an object with a 'type'")
    return content


def _check_content_block(block: dict, role: str, where: str, has_tools: bool) -> None:
    kind = block["type"]
    if kind in _USER_ONLY and role != "user":
        raise RequestInvalid(f"{where}.type: `{kind}` blocks are only allowed in user messages")
    if kind in _ASSISTANT_ONLY and role != "assistant":
        raise RequestInvalid(f"{where}.type: `{kind}` blocks are only allowed in assistant messages")
    if kind == "text":
        _check_text(block, where)
    elif kind == "image":
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") not in {"base64", "url"}:
            raise RequestInvalid(f"{where}.image.source: Input should be a base64 or url source")
        if source["type"] == "base64" and (source.get("media_type") not in _IMAGE_TYPES or not source.get("data")):
            raise RequestInvalid(
                f"{where}.image.source.base64.media_type: Input should be one of {', '.join(sorted(_IMAGE_TYPES))}"
            )
    elif kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise RequestInvalid(f"{where}.tool_use: id and name are required")
        if not isinstance(block.get("input"), dict):
            raise RequestInvalid(f"{where}.tool_use.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise RequestInvalid(f"{where}.tool_result.tool_use_id: Field required")
        inner = block.get("content")
        if inner is not None and not isinstance(inner, str | list):
            raise RequestInvalid(f"{where}.tool_result.content: Input should be a valid string or list")
        for number, part in enumerate(inner if isinstance(inner, list) else []):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise RequestInvalid(f"{where}.content.{number}: Input should be an object with a 'type'")
            if part["type"] == "text":
                _check_text(part, f"{where}.content.{number}")
    elif kind == "thinking" and not all(isinstance(block.get(k), str) for k in ("thinking", "signature")):
        raise RequestInvalid(f"{where}.thinking: thinking and signature are required")
    if kind in {"tool_use", "tool_result"} and not has_tools:
        raise RequestInvalid("Requests which include `tool_use` or `tool_result` blocks must define tools.")
    _check_cache_control(block, where)


def _check_text(block: dict, where: str) -> None:
    text = block.get("text")
    if not isinstance(text, str):
        raise RequestInvalid(f"{where}.text: Field required")
    if not text:
        raise RequestInvalid("messages: text content blocks must be non-empty")
    if not text.strip():
        raise RequestInvalid("messages: text content blocks must contain non-whitespace text")


def _check_tool_results(index: int, blocks: list[dict], expected: list[str]) -> None:
    ids = [b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"]
    unexpected = [i for i in ids if i not in expected]
    if unexpected:
        raise RequestInvalid(
            f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
            f"{', '.join(unexpected)}. Each `tool_result` block must have a corresponding `tool_use` block in "
            "the previous message."
        )
    missing = [i for i in expected if i not in ids]
    if missing:
        raise RequestInvalid(
            f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the "
            "next message."
        )


def _check_cache_control(block: dict, where: str) -> None:
    control = block.get("cache_control")
    if control is None:
        return
    if not isinstance(control, dict) or control.get("type") != "ephemeral" \
            or control.get("ttl", "5m") not in _CACHE_TTLS:
        raise RequestInvalid(f"{where}.cache_control: Input should be {{type: ephemeral}} with a ttl of 5m or 1h")


def cache_breakpoints(body: dict) -> list[dict]:
    """The ``cache_control`` objects in prompt order: tools, system, messages (the order Claude caches in)."""
    found = [t["cache_control"] for t in body.get("tools") or [] if isinstance(t, dict) and t.get("cache_control")]
    if isinstance(body.get("system"), list):
        found += [b["cache_control"] for b in body["system"] if isinstance(b, dict) and b.get("cache_control")]
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            found += [b["cache_control"] for b in content if isinstance(b, dict) and b.get("cache_control")]
    return found


def _check_cache_breakpoints(body: dict) -> None:
    count = len(cache_breakpoints(body))
    if count > MAX_CACHE_BREAKPOINTS:
        raise RequestInvalid(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {count}."
        )
