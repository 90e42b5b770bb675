"""How deep a parsed JSON value nests, checked without recursion (pure)."""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 100  # levels of objects and arrays; a tool's JSON schema rarely needs 20


def depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when objects/arrays nest more than ``limit`` levels; level by level, containers only."""
    level = [value]
    for _ in range(limit):
        deeper = []
        for node in level:
            kind = type(node)
            children = node.values() if kind is dict else node if kind is list else ()
            for child in children:
                child_kind = type(child)
                if child_kind is dict or child_kind is list:
                    deeper.append(child)
        if not deeper:
            return False
        level = deeper
    return any(type(node) in (dict, list) for node in level)


def deep_path(value: Any, limit: int = MAX_JSON_DEPTH) -> str:
    """Where the first container deeper than ``limit`` sits (the error's param); call only when it does."""
    node, path = value, ""
    while limit > 0 and isinstance(node, (dict, list)):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        found = next(((key, child) for key, child in items
                      if isinstance(child, (dict, list)) and depth_exceeds(child, limit - 1)), None)
        if found is None:
            break
        key, node = found
        path = (f"{path}.{key}" if path else str(key)) if isinstance(key, str) else f"{path}[{key}]"
        limit -= 1
    return path or "$"
