"""What both upstream paths share: core field validation, the system prompt (Claude Code's `role: "system"`
messages and billing header), betas and metadata.user_id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from translators.anthropic_bedrock.errors import TranslationError
from translators.openai_bedrock.mappings import MAX_TOKENS

BILLING_PREFIX = "x-anthropic-billing-header:"
_ROLES = ("user", "assistant", "system")
# Anthropic features that run on Anthropic's servers: dropping them would silently change the answer.
REFUSED_FIELDS: dict[str, str] = {
    "mcp_servers": "the MCP connector (mcp_servers) is not available on Bedrock; connect MCP servers in the client",
    "container": "containers (code execution, Agent Skills) are not available on Bedrock",
}


@dataclass(frozen=True)
class CoreFields:
    model: str
    max_tokens: int
    stream: bool
    messages: list[Any]


def core_fields(body: Any) -> CoreFields:
    """model, max_tokens, stream, the shape of messages, and no Anthropic-side-only feature (REFUSED_FIELDS)."""
    if not isinstance(body, dict):
        raise TranslationError("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise TranslationError("model: field required (a non-empty string)", param="model")
    limit = body.get("max_tokens")
    if limit is None:
        raise TranslationError("max_tokens: field required", param="max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise TranslationError("max_tokens must be an integer >= 1", param="max_tokens")
    if limit > MAX_TOKENS:
        raise TranslationError(f"max_tokens must be at most {MAX_TOKENS}", param="max_tokens")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise TranslationError("stream must be a boolean", param="stream")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TranslationError("messages must be a non-empty list", param="messages")
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise TranslationError(
                f"messages[{i}].role must be 'user' or 'assistant'", param=f"messages[{i}].role"
            )
        content = message.get("content")
        if not isinstance(content, str | list):
            raise TranslationError(
                "content must be a string or a list of content blocks", param=f"messages[{i}].content"
            )
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise TranslationError("system must be a string or a list of text blocks", param="system")
    for name, reason in REFUSED_FIELDS.items():
        if body.get(name) is not None:
            raise TranslationError(reason, param=name, code="unsupported_parameter")
    return CoreFields(model, limit, stream, messages)


def parse_billing_header(text: str) -> dict[str, str]:
    """`x-anthropic-billing-header: cc_version=2.1.3.abc; cc_entrypoint=cli;` -> {cc_version: ..., ...}."""
    pairs: dict[str, str] = {}
    for item in text[len(BILLING_PREFIX) :].split(";"):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs


def is_billing_block(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
        and block["text"].startswith(BILLING_PREFIX)
    )


def _as_blocks(content: Any, param: str) -> tuple[list[Any], list[str]]:
    """System content as text blocks, and the param naming each where the client sent it."""
    if isinstance(content, str):
        return ([{"type": "text", "text": content}], [param]) if content else ([], [])
    for j, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise TranslationError("system content must be text blocks", param=f"{param}[{j}]")
    return list(content), [f"{param}[{j}]" for j in range(len(content))]


@dataclass
class SystemPrompt:
    """The top-level system prompt once `role: "system"` messages are lifted into it (in order)."""

    value: str | list[Any] | None  # the client's own value when nothing was lifted (bytes stay untouched)
    messages: list[Any]  # the conversation without system messages (adjacent same-role turns merged)
    lifted: int = 0
    attribution: dict[str, str] = field(default_factory=dict)
    origins: list[str] = field(default_factory=list)  # where the client sent each block of a list `value`


def _merge_turns(messages: list[Any]) -> list[Any]:
    """Same-role neighbours left by a lifted system message become one turn (content as blocks)."""
    merged: list[Any] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            previous = merged[-1]
            content = _content_list(previous["content"]) + _content_list(message["content"])
            merged[-1] = {**previous, "content": content}
        else:
            merged.append(message)
    return merged


def _content_list(content: str | list[Any]) -> list[Any]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def system_prompt(system: Any, messages: list[Any]) -> SystemPrompt:
    """Lift `role: "system"` messages into `system` (Bedrock takes them nowhere else); parse the billing header."""
    lifted = [i for i, m in enumerate(messages) if m["role"] == "system"]
    value: str | list[Any] | None = system
    rest = messages
    origins = [f"system[{j}]" for j in range(len(system))] if isinstance(system, list) else []
    if lifted:
        blocks, origins = _as_blocks(system, "system") if system is not None else ([], [])
        for i in lifted:
            more, where = _as_blocks(messages[i]["content"], f"messages[{i}].content")
            blocks, origins = blocks + more, origins + where
        value = blocks
        rest = _merge_turns([m for m in messages if m["role"] != "system"])
        if not rest:
            raise TranslationError("messages must contain a user message, not only system messages", param="messages")
    attribution: dict[str, str] = {}
    if isinstance(value, list):
        for block in value:
            if is_billing_block(block):
                attribution.update(parse_billing_header(block["text"]))
    return SystemPrompt(value, rest, len(lifted), attribution, origins)


def split_betas(header: str | None, body_betas: Any) -> list[str]:
    """The `anthropic-beta` header (comma separated) then the body's `anthropic_beta`, deduplicated in order."""
    names: list[str] = []
    values: Iterable[Any] = (header or "").split(",")
    if isinstance(body_betas, str):
        body_betas = body_betas.split(",")
    if isinstance(body_betas, list):
        values = [*values, *body_betas]
    for value in values:
        name = value.strip() if isinstance(value, str) else ""
        if name and name not in names:
            names.append(name)
    return names


def metadata_user_id(metadata: Any) -> str | None:
    """metadata.user_id (Claude Code sends a JSON string: device, account and session ids), if a string."""
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        return str(metadata["user_id"])
    return None
