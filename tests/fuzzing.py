"""Random mutations of request bodies, shared by the translator fuzz test and the end-to-end one."""

from __future__ import annotations

import copy
import random
from typing import Any

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -0.0, 10**20, 1e308, "", " ", "x" * 5000, "\u0000", "\ud7ff\ue000",
    [], {}, [None], [[[]]], {"type": None}, {"a": {"b": {"c": []}}}, ["text"], "null", "NaN",
    {"type": "text"}, {"type": "image_url"}, {"type": "image_url", "image_url": {"url": "data:,"}},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}},
    {"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest"}},
    {"role": "tool"}, {"role": "assistant", "tool_calls": [{}]}, {"role": "user", "content": [{}]},
    {"type": "function", "function": {}}, {"type": "function", "function": {"name": ""}},
    {"type": "json_schema", "json_schema": {}}, {"type": "json_schema"}, {"type": "json_object"},
]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into the body, containers included."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def mutate(rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    """base with 1 to 3 random edits: a value replaced by an odd one, a key deleted, a parameter added."""
    body = copy.deepcopy(base)
    for _ in range(rng.randint(1, 3)):
        options = paths(body)
        if not options:
            break
        path = rng.choice(options)
        parent: Any = body
        for step in path[:-1]:
            parent = parent[step]
        action = rng.random()
        if action < 0.15 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.25 and isinstance(parent, dict):
            parent[rng.choice(["n", "logprobs", "logit_bias", "seed", "user", "stream_options", "top_p",
                               "max_completion_tokens", "parallel_tool_calls", "reasoning_effort",
                               "guardrailConfig", "additionalModelRequestFields", "thinking", "zzz"])] = (
                copy.deepcopy(rng.choice(ODD_VALUES)))
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    return body
