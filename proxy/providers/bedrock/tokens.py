"""A cheap prompt-token estimate over a Converse body, for admission (TPM and budget reservations).

Real usage always wins later; this only sizes what a request may take before Bedrock has answered.
"""

from __future__ import annotations

from typing import Any

from proxy.providers.base import CHARS_PER_TOKEN

IMAGE_TOKENS = 1600  # Claude's documented cost of a ~1.15 MP image; a conservative flat estimate
DOCUMENT_TOKENS = 2000


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
