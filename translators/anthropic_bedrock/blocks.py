"""Copy-on-write cleaning of system blocks, messages and tools for InvokeModel.

Only what the model cannot take is touched: cache_control `ttl`/`scope`, tool search (`defer_loading`, the
search tools, `tool_reference` blocks), message fields other than role/content, and Anthropic server tools
(refused: Bedrock cannot run them). An object is copied only when something inside it changes.
"""

from __future__ import annotations

from typing import Any

from translators.anthropic_bedrock.capabilities import AnthropicCapabilities
from translators.anthropic_bedrock.errors import TranslationError

CLIENT_TOOL_PREFIXES = ("bash_", "text_editor_", "computer_", "memory_")  # Anthropic-defined, run by the client
TOOL_SEARCH_PREFIX = "tool_search_tool_"


def note(stripped: list[str], what: str) -> None:
    if what not in stripped:
        stripped.append(what)


def _cache(block: Any, caps: AnthropicCapabilities, stripped: list[str]) -> Any:
    control = block.get("cache_control") if isinstance(block, dict) else None
    if not isinstance(control, dict):
        return block
    drop = [k for k, ok in (("ttl", caps.cache_ttl), ("scope", caps.cache_scope)) if k in control and not ok]
    if not drop:
        return block
    for key in drop:
        note(stripped, f"cache_control.{key}")
    return {**block, "cache_control": {k: v for k, v in control.items() if k not in drop}}


def tool_kind(tool: dict[str, Any]) -> str:
    """custom | client (Anthropic-defined, run by the client) | tool_search | server (run by Anthropic)."""
    kind = tool.get("type")
    if kind in (None, "custom"):
        return "custom"
    if not isinstance(kind, str):
        return "server"
    if kind.startswith(TOOL_SEARCH_PREFIX):
        return "tool_search"
    return "client" if kind.startswith(CLIENT_TOOL_PREFIXES) else "server"


def server_tool_error(tool: dict[str, Any], param: str) -> TranslationError:
    name = tool.get("name") or tool.get("type")
    return TranslationError(
        f"tool '{name}' (type {tool.get('type')!r}) is an Anthropic server tool, which is not available on Bedrock",
        param=param,
        code="unsupported_tool",
    )


def clean_tools(tools: Any, caps: AnthropicCapabilities, stripped: list[str]) -> list[Any]:
    if not isinstance(tools, list):
        raise TranslationError("tools must be a list", param="tools")
    kept: list[Any] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise TranslationError("a tool must be an object", param=f"tools[{i}]")
        kind = tool_kind(tool)
        if kind == "server" and not caps.server_tools:
            raise server_tool_error(tool, f"tools[{i}]")
        if kind == "tool_search" and not caps.tool_search:
            note(stripped, "tools (tool search)")  # every tool is loaded up front instead
            continue
        if "defer_loading" in tool and not caps.tool_search:
            tool = {k: v for k, v in tool.items() if k != "defer_loading"}
            note(stripped, "tools[].defer_loading")
        kept.append(_cache(tool, caps, stripped))
    return kept


def clean_system(system: str | list[Any], caps: AnthropicCapabilities, stripped: list[str]) -> str | list[Any]:
    if isinstance(system, str):
        return system
    cleaned = [_cache(block, caps, stripped) for block in system]
    return system if all(a is b for a, b in zip(cleaned, system, strict=True)) else cleaned


def _tool_reference(block: Any, caps: AnthropicCapabilities, stripped: list[str]) -> Any:
    if caps.tool_search or not isinstance(block, dict) or block.get("type") != "tool_reference":
        return block
    note(stripped, "tool_reference blocks -> text")
    return {"type": "text", "text": f"Tool {block.get('tool_name', '')} is loaded."}


def _block(block: Any, caps: AnthropicCapabilities, stripped: list[str]) -> Any:
    block = _cache(block, caps, stripped)
    inner = block.get("content") if isinstance(block, dict) and block.get("type") == "tool_result" else None
    if isinstance(inner, list):
        cleaned = [_cache(_tool_reference(b, caps, stripped), caps, stripped) for b in inner]
        if any(a is not b for a, b in zip(cleaned, inner, strict=True)):
            block = {**block, "content": cleaned}
    return block


def clean_messages(messages: list[Any], caps: AnthropicCapabilities, stripped: list[str]) -> list[Any]:
    """Messages as sent, but for the few things Bedrock rejects; the same list when nothing changes."""
    out: list[Any] = []
    changed = False
    for message in messages:
        new = message
        if len(message) > 2 or "content" not in message:
            extra = sorted(k for k in message if k not in ("role", "content"))
            for key in extra:
                note(stripped, f"messages[].{key}")
            new = {"role": message["role"], "content": message.get("content")}
        content = new["content"]
        if isinstance(content, list):
            cleaned = [_block(b, caps, stripped) for b in content]
            if any(a is not b for a, b in zip(cleaned, content, strict=True)):
                new = {**new, "content": cleaned}
        changed = changed or new is not message
        out.append(new)
    return out if changed else messages
