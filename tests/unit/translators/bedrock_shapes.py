"""Bedrock's own service model (botocore's bedrock-runtime JSON) as the judge of what the translators send.

`converse_problems(body, stream=...)` lists every place where a Converse body breaks the ConverseRequest /
ConverseStreamRequest shape (types, enums, lengths, ranges, patterns, unions, required members) or one of the
runtime rules Bedrock enforces beyond the model (user turn first, alternating roles, no blank text, no tool
blocks without toolConfig). The JSON wire format carries blobs as base64 text, so a blob must be a str that
decodes. An empty list means Bedrock would accept the shape.

`shape_values(shape)` is the other direction: a hypothesis strategy for well-formed values of an output shape
(a Converse response, a ConverseStream event), for the response and stream translators' properties.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import math
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from hypothesis import strategies as st

# Patterns Bedrock checks itself, as clearly as the gateway could (the golden guardrail id is not a real one).
_LEFT_TO_BEDROCK = (".guardrailIdentifier", ".guardrailVersion")
_INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


@functools.cache
def operation(name: str) -> OperationModel:
    return botocore.session.get_session().get_service_model("bedrock-runtime").operation_model(name)


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.ASCII)  # Java regex classes (\s, \d, \w) are ASCII
    except re.error:  # a Java-only construct: the check is left to Bedrock
        return None


def _length(shape: Shape, size: int, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append(f"{path}: length {size} < min {low}")
    if high is not None and size > high:
        problems.append(f"{path}: length {size} > max {high}")


def _string(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{path}: expected a string, got {type(value).__name__}")
        return
    if shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r} is not one of {shape.enum}")
    _length(shape, len(value), path, problems)
    checked = "pattern" in shape.metadata and not path.endswith(_LEFT_TO_BEDROCK)
    pattern = _pattern(shape.metadata["pattern"]) if checked else None
    if pattern is not None and not pattern.fullmatch(value):
        problems.append(f"{path}: {value!r} does not match {pattern.pattern}")


def _number(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    integral = kind in _INT_RANGES
    if isinstance(value, bool) or not isinstance(value, int | float) or (integral and not isinstance(value, int)):
        problems.append(f"{path}: expected {kind}, got {type(value).__name__}")
        return
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{path}: {value} is not a finite number")
        return
    low, high = _INT_RANGES.get(kind, (-math.inf, math.inf))
    low, high = max(low, shape.metadata.get("min", low)), min(high, shape.metadata.get("max", high))
    if not low <= value <= high:
        problems.append(f"{path}: {value} outside [{low}, {high}]")


def _blob(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{path}: a blob is base64 text in JSON, got {type(value).__name__}")
        return
    try:
        size = len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        problems.append(f"{path}: blob is not valid base64")
        return
    _length(shape, size, path, problems)


def _structure(shape: StructureShape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object, got {type(value).__name__}")
        return
    members = {k: m for k, m in shape.members.items() if "location" not in m.serialization}
    for key in value:
        if key not in members:
            problems.append(f"{path}: unknown member {key!r}")
    for key in shape.required_members:
        if key in members and key not in value:
            problems.append(f"{path}: missing required member {key!r}")
    if shape.is_tagged_union and len(value) != 1:
        problems.append(f"{path}: a union needs exactly one member, got {sorted(value)}")
    for key, child in value.items():
        if key in members:
            check(members[key], child, f"{path}.{key}", problems)


def check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    """Append to `problems` everything in `value` that `shape` does not allow."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return  # any JSON: serialisability is checked on the whole body
        _structure(shape, value, path, problems)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        _length(shape, len(value), path, problems)
        for i, item in enumerate(value):
            check(shape.member, item, f"{path}[{i}]", problems)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        _length(shape, len(value), path, problems)
        for key, item in value.items():
            _string(shape.key, key, f"{path} key {key!r}", problems)
            check(shape.value, item, f"{path}[{key!r}]", problems)
    elif kind == "string":
        _string(shape, value, path, problems)
    elif kind in ("integer", "long", "float", "double"):
        _number(shape, value, path, problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {type(value).__name__}")
    elif kind == "blob":
        _blob(shape, value, path, problems)


def _runtime_rules(body: dict[str, Any], problems: list[str]) -> None:
    """What Bedrock enforces beyond its service model (PITFALLS #8-#10, #14)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if roles[:1] != ["user"]:
        problems.append("messages: the first turn must be the user's")
    if any(a == b for a, b in itertools.pairwise(roles)):
        problems.append(f"messages: roles must alternate, got {roles}")
    has_tools = bool(body.get("toolConfig"))
    lists = [("system", body.get("system") or [])]
    lists += [(f"messages[{i}].content", m.get("content") or []) for i, m in enumerate(messages)]
    for where, blocks in lists:
        for j, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            text = block.get("text")
            if isinstance(text, str) and not text.strip():
                problems.append(f"{where}[{j}].text: blank text")
            if ("toolUse" in block or "toolResult" in block) and not has_tools:
                problems.append(f"{where}[{j}]: a tool block without toolConfig")
            if "cachePoint" in block and (j == 0 or "cachePoint" in blocks[j - 1]):
                problems.append(f"{where}[{j}]: a cache point first or right after another")


def converse_problems(body: dict[str, Any], *, stream: bool) -> list[str]:
    """Everything in a Converse request body that Bedrock's Converse (or ConverseStream) would refuse."""
    problems: list[str] = []
    check(operation("ConverseStream" if stream else "Converse").input_shape, body, "$", problems)
    _runtime_rules(body, problems)
    return problems


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
# Any JSON value orjson.loads can return (a Document): 64-bit ints, finite floats, keys free of path syntax.
JSON_KEYS = st.text(st.characters(exclude_characters=".[]", exclude_categories=["Cs"]), max_size=6)
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=3),
    max_leaves=8,
)


def _text(shape: Shape) -> st.SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(shape.enum)
    low = shape.metadata.get("min", 0)
    return st.text(min_size=low, max_size=max(low, 8))


def _number_values(shape: Shape) -> st.SearchStrategy[Any]:
    low, high = _INT_RANGES.get(shape.type_name, (None, None))
    low, high = shape.metadata.get("min", low), shape.metadata.get("max", high)
    if shape.type_name in _INT_RANGES:
        return st.integers(low, high)
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _structure_values(
    shape: StructureShape, overrides: dict[str, st.SearchStrategy[Any]], depth: int
) -> st.SearchStrategy[Any]:
    members = {
        k: overrides[k] if k in overrides else shape_values(m, overrides, depth - 1)
        for k, m in shape.members.items()
        if "location" not in m.serialization and not m.metadata.get("exception")
    }
    if shape.is_tagged_union or shape.serialization.get("eventstream"):  # a stream sends one member per event
        return st.one_of([st.fixed_dictionaries({k: v}) for k, v in members.items()])
    required = {k: v for k, v in members.items() if k in shape.required_members}
    optional = {k: v for k, v in members.items() if k not in required} if depth > 0 else {}
    return st.fixed_dictionaries(required, optional=optional)


def shape_values(
    shape: Shape, overrides: dict[str, st.SearchStrategy[Any]] | None = None, depth: int = 5
) -> st.SearchStrategy[Any]:
    """Well-formed JSON-wire values of `shape`; `overrides` replace the strategy of members by name."""
    overrides = overrides or {}
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return JSON_VALUES
        return _structure_values(shape, overrides, depth) if depth > -3 else st.nothing()  # recursive shapes end
    if isinstance(shape, ListShape):
        low = shape.metadata.get("min", 0)
        items = shape_values(shape.member, overrides, depth - 1)
        return st.lists(items, min_size=low, max_size=max(low, 2 if depth > 0 else 0))
    if isinstance(shape, MapShape):
        return st.dictionaries(_text(shape.key), shape_values(shape.value, overrides, depth - 1), max_size=2)
    if kind in ("integer", "long", "float", "double"):
        return _number_values(shape)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(min_size=1, max_size=8).map(lambda b: base64.b64encode(b).decode())
    if kind == "timestamp":
        return st.integers(0, 2**31)
    return _text(shape)
