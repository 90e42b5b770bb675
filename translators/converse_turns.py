"""Converse turn merging shared by both client APIs' translators (openai_bedrock/, anthropic_bedrock/)."""

from __future__ import annotations

from typing import Any


def merge_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Converse refuses two neighbouring turns of one role, so they are joined into one."""
    merged: list[dict[str, Any]] = []
    for turn in turns:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["content"] += turn["content"]
        else:
            merged.append({"role": turn["role"], "content": list(turn["content"])})
    for turn in merged:  # Claude wants toolResult blocks before any other block of the user turn
        if turn["role"] == "user":
            turn["content"].sort(key=lambda b: "toolResult" not in b)
    return merged
