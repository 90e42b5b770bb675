"""A cheap input-token estimate over an Anthropic Messages body, for admission and for models without
Bedrock CountTokens (the same rule as proxy/providers/bedrock/tokens.py applies to Converse bodies).
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1600  # Claude's documented cost of a ~1.15 MP image; a conservative flat estimate
DOCUMENT_TOKENS = 2000
_SKIPPED = frozenset({"signature", "cache_control", "type", "id", "tool_use_id"})  # not model input text


def _walk(node: Any) -> int:
    """Characters of text in a JSON value; images and base64 documents at a flat rate, not by size."""
    if isinstance(node, str):
        return len(node)
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "image":
            return IMAGE_TOKENS * CHARS_PER_TOKEN
        if kind == "document" and isinstance(node.get("source"), dict) and node["source"].get("type") != "text":
            return DOCUMENT_TOKENS * CHARS_PER_TOKEN
        if kind == "redacted_thinking":
            return 0
        return sum(_walk(value) for key, value in node.items() if key not in _SKIPPED)
    if isinstance(node, list):
        return sum(_walk(item) for item in node)
    return 1 if node is not None else 0


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """Characters / 4 over system, messages and tools (at least 1)."""
    parts = (body.get("system"), body.get("messages"), body.get("tools"))
    return max(1, sum(_walk(part) for part in parts if part) // CHARS_PER_TOKEN)
