"""Prompt caching: `cache_control` markers and the `prompt_caching` extension -> Converse cachePoint blocks.

`cache_control: {"type": "ephemeral"}` (the Anthropic/LiteLLM convention) on a content part, a message or a
tool puts a cache point right after it. The `prompt_caching` extension (top level, e.g. the openai SDK's
extra_body: PITFALLS #34) adds the usual "cache the prefix" points after the tools, the system prompt and
the last user turn. Bedrock takes at most 4 points per request, read in toolConfig -> system -> messages
order, and a point's TTL may not be longer than an earlier one's. Models without prompt caching get the
markers dropped (they are hints); an explicit `prompt_caching` on such a model is a 400.
"""

from __future__ import annotations

from typing import Any

from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.errors import TranslationError

MAX_CACHE_POINTS = 4
CACHE_TTLS: dict[str, int] = {"5m": 1, "1h": 2}  # rank: a later point may not outlive an earlier one
_SECTIONS = ("tools", "system", "messages")


class CachePoint(dict[str, Any]):
    """A Converse cachePoint block that remembers which request field asked for it (for error messages).

    Replaced by a plain dict before the body leaves the translator.
    """

    def __init__(self, param: str, ttl: str | None = None) -> None:
        point: dict[str, str] = {"type": "default"}
        if ttl is not None:
            point["ttl"] = ttl
        super().__init__(cachePoint=point)
        self.param = param


def _ttl(value: Any, param: str) -> str | None:
    if value is not None and (not isinstance(value, str) or value not in CACHE_TTLS):
        raise TranslationError("ttl must be '5m' or '1h'", param=param)
    return value


def cache_point(owner: Any, param: str) -> CachePoint | None:
    """The point asked for by `owner["cache_control"]`; `param` names the owner (a part, message or tool)."""
    control = owner.get("cache_control") if isinstance(owner, dict) else None
    if control is None:
        return None
    where = f"{param}.cache_control"
    if not isinstance(control, dict):
        raise TranslationError("cache_control must be an object", param=where)
    if control.get("type") != "ephemeral":
        raise TranslationError("cache_control.type must be 'ephemeral'", param=f"{where}.type")
    return CachePoint(where, _ttl(control.get("ttl"), f"{where}.ttl"))


def content_point(content: Any, param: str) -> CachePoint | None:
    """The last cache_control among content parts, for content that collapses into one block."""
    if not isinstance(content, list):
        return None
    points = [cache_point(part, f"{param}[{j}]") for j, part in enumerate(content)]
    return next((p for p in reversed(points) if p is not None), None)


def append_point(blocks: list[dict[str, Any]], point: CachePoint | None) -> None:
    """Put `point` after the last block: never first in a list, never right after another point."""
    if point is not None and blocks and "cachePoint" not in blocks[-1]:
        blocks.append(point)


def _extension(value: Any) -> tuple[dict[str, str], str | None]:
    """`prompt_caching` -> {section: param naming it} and the TTL for the points it adds."""
    if value is None or value is False:
        return {}, None
    if value is True:
        return dict.fromkeys(_SECTIONS, "prompt_caching"), None
    if not isinstance(value, dict):
        raise TranslationError(
            "'prompt_caching' must be true or an object like {\"system\": true, \"tools\": true, "
            "\"messages\": true}",
            param="prompt_caching",
        )
    for key, flag in value.items():
        if key not in (*_SECTIONS, "ttl"):
            raise TranslationError(f"unknown prompt_caching key '{key}'", param=f"prompt_caching.{key}")
        if key != "ttl" and not isinstance(flag, bool):
            raise TranslationError(f"prompt_caching.{key} must be a boolean", param=f"prompt_caching.{key}")
    wanted = {s: f"prompt_caching.{s}" for s in _SECTIONS if value.get(s)}
    return wanted, _ttl(value.get("ttl"), "prompt_caching.ttl")


def _check_extension(value: Any, caps: ModelCapabilities) -> tuple[dict[str, str], str | None]:
    wanted, ttl = _extension(value)
    if wanted and not caps.prompt_caching:
        raise TranslationError(
            "'prompt_caching' is not supported by this model", param="prompt_caching", code="unsupported_parameter"
        )
    if "tools" in wanted and not caps.prompt_caching_tools:
        if wanted["tools"] != "prompt_caching":  # asked for by name: say so; `true` means "what the model can"
            raise TranslationError(
                "this model caches system and messages only, not tools",
                param="prompt_caching.tools",
                code="unsupported_parameter",
            )
        del wanted["tools"]
    return wanted, ttl


def _sections(body: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The block lists that may hold cache points, in the order Bedrock reads them."""
    lists = [("tools", (body.get("toolConfig") or {}).get("tools") or [])]
    lists.append(("system", body.get("system") or []))
    lists += [("messages", turn["content"]) for turn in body.get("messages") or []]
    return lists


def _add_extension_points(body: dict[str, Any], wanted: dict[str, str], ttl: str | None) -> None:
    if "tools" in wanted and body.get("toolConfig"):
        append_point(body["toolConfig"]["tools"], CachePoint(wanted["tools"], ttl))
    if "system" in wanted:
        append_point(body.get("system") or [], CachePoint(wanted["system"], ttl))
    if "messages" in wanted:
        user = next((t for t in reversed(body["messages"]) if t["role"] == "user"), None)
        if user is not None:
            append_point(user["content"], CachePoint(wanted["messages"], ttl))


def _check_limits(points: list[CachePoint]) -> None:
    if len(points) > MAX_CACHE_POINTS:
        raise TranslationError(
            f"Bedrock accepts at most {MAX_CACHE_POINTS} cache points per request; this request asks for "
            f"{len(points)} ({', '.join(p.param for p in points)})",
            param=points[MAX_CACHE_POINTS].param,
            code="too_many_cache_points",
        )
    longest = max(CACHE_TTLS.values())
    for point in points:
        rank = CACHE_TTLS[point["cachePoint"].get("ttl", "5m")]
        if rank > longest:
            raise TranslationError(
                "a cache point's ttl cannot be longer than an earlier one's (Bedrock reads them in "
                "tools, system, messages order)",
                param=point.param,
            )
        longest = rank


def apply_cache_points(body: dict[str, Any], fields: dict[str, Any], caps: ModelCapabilities) -> None:
    """Add the extension's points, drop what the model cannot take, check Bedrock's limits (in place)."""
    wanted, ttl = _check_extension(fields.get("prompt_caching"), caps)
    _add_extension_points(body, wanted, ttl)
    points: list[CachePoint] = []
    for section, blocks in _sections(body):
        keep = caps.prompt_caching and (section != "tools" or caps.prompt_caching_tools)
        kept: list[dict[str, Any]] = []
        for block in blocks:
            if isinstance(block, CachePoint):
                if not keep or (kept and "cachePoint" in kept[-1]):
                    continue
                points.append(block)
                block = {"cachePoint": dict(block["cachePoint"])}
            kept.append(block)
        blocks[:] = kept
    _check_limits(points)
