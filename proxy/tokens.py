"""Cheap token estimates for admission (TPM and budget reservations); real usage always wins later."""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1600  # Claude's documented cost of a ~1.15 MP image; a conservative flat estimate
DOCUMENT_TOKENS = 2000
COMPLETION_ALLOWANCE = 256  # TPM estimate when the client sets no max_tokens; corrected on settle
WORST_CASE_COMPLETION = 4096  # budget reservation when the client sets no max_tokens


def _walk(node: Any) -> int:
    if isinstance(node, str):
        return len(node)
    if isinstance(node, dict):
        if "image" in node and isinstance(node["image"], dict):
            return IMAGE_TOKENS * CHARS_PER_TOKEN
        if "document" in node and isinstance(node["document"], dict):
            return DOCUMENT_TOKENS * CHARS_PER_TOKEN
        return sum(_walk(value) for value in node.values())
    if isinstance(node, list):
        return sum(_walk(item) for item in node)
    return 1


def estimate_prompt_tokens(converse_body: dict[str, Any]) -> int:
    """Characters / 4 over messages, system and tool specs; images and documents at a flat rate."""
    parts = (converse_body.get("messages"), converse_body.get("system"), converse_body.get("toolConfig"))
    return max(1, sum(_walk(part) for part in parts if part) // CHARS_PER_TOKEN)
