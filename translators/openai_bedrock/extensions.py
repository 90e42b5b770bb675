"""Bedrock vendor extensions sent at top level (openai SDK ``extra_body``, LangChain ``model_kwargs``).

PITFALLS #34: these arrive as ordinary top-level JSON fields, so they are read from the body itself.
"""

from __future__ import annotations

import re
from typing import Any

from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.errors import TranslationError
from translators.openai_bedrock.mappings import MAX_TOKENS, MIN_THINKING_BUDGET, REASONING_BUDGETS
from translators.openai_bedrock.params import max_tokens_param


def _dict(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TranslationError(f"'{key}' must be an object", param=key)
    return value


# Converse's GuardrailStreamConfiguration; a key it does not know, or a value of another type, is Bedrock's 400.
_GUARDRAIL_ENUMS: dict[str, tuple[str, ...]] = {
    "trace": ("enabled", "disabled", "enabled_full"),
    "streamProcessingMode": ("sync", "async"),
}
_GUARDRAIL_IDS = ("guardrailIdentifier", "guardrailVersion")
_LATENCIES = ("standard", "optimized")  # PerformanceConfiguration.latency
# RequestMetadata (Converse API reference): at most 16 pairs, keys 1-256 and values 0-256 of these characters.
_METADATA_TEXT = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}", re.ASCII)  # ASCII: Java's \s
_MAX_METADATA = 16
_MAX_RESPONSE_PATHS = 10  # additionalModelResponseFieldPaths: at most 10 JSON Pointers of 1-256 characters


def _guardrail(body: dict[str, Any], stream: bool) -> dict[str, Any] | None:
    config = _dict(body, "guardrailConfig")
    if config is None:
        return None
    for key, value in config.items():
        param = f"guardrailConfig.{key}"
        if key in _GUARDRAIL_IDS:
            if value is not None and (not isinstance(value, str) or not value):
                raise TranslationError(f"{param} must be a non-empty string", param=param)
        elif key in _GUARDRAIL_ENUMS:
            if value not in _GUARDRAIL_ENUMS[key]:
                raise TranslationError(f"{param} must be one of {', '.join(_GUARDRAIL_ENUMS[key])}", param=param)
        else:
            raise TranslationError(f"unknown guardrailConfig key '{key}'", param=param)
    if not all(config.get(key) for key in _GUARDRAIL_IDS):
        raise TranslationError(
            "'guardrailConfig' needs guardrailIdentifier and guardrailVersion", param="guardrailConfig"
        )
    if not stream:
        # streamProcessingMode exists only in ConverseStream's GuardrailStreamConfiguration.
        config = {k: v for k, v in config.items() if k != "streamProcessingMode"}
    return config


def _performance(body: dict[str, Any]) -> dict[str, Any] | None:
    config = _dict(body, "performanceConfig")
    for key, value in (config or {}).items():
        param = f"performanceConfig.{key}"
        if key != "latency":
            raise TranslationError(f"unknown performanceConfig key '{key}'", param=param)
        if value not in _LATENCIES:
            raise TranslationError(f"{param} must be one of {', '.join(_LATENCIES)}", param=param)
    return config


def _request_metadata(body: dict[str, Any]) -> dict[str, str] | None:
    meta = _dict(body, "requestMetadata")
    if meta is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise TranslationError("'requestMetadata' must map strings to strings", param="requestMetadata")
    for key, value in (meta or {}).items():
        if not key or not _METADATA_TEXT.fullmatch(key) or not _METADATA_TEXT.fullmatch(value):
            raise TranslationError(
                "'requestMetadata' keys (1-256 characters) and values (up to 256) may hold only letters, digits, "
                "whitespace and : _ @ $ # = / + , - .",
                param="requestMetadata",
            )
    if meta is not None and len(meta) > _MAX_METADATA:
        raise TranslationError(f"'requestMetadata' holds at most {_MAX_METADATA} pairs", param="requestMetadata")
    return meta or None


def _response_paths(body: dict[str, Any]) -> list[str] | None:
    paths = body.get("additionalModelResponseFieldPaths")
    if paths is None:
        return None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise TranslationError(
            "'additionalModelResponseFieldPaths' must be a list of strings",
            param="additionalModelResponseFieldPaths",
        )
    for i, path in enumerate(paths):
        if not 1 <= len(path) <= 256:
            raise TranslationError(
                "a response field path must be a JSON Pointer of 1 to 256 characters",
                param=f"additionalModelResponseFieldPaths[{i}]",
            )
    if len(paths) > _MAX_RESPONSE_PATHS:
        raise TranslationError(
            f"'additionalModelResponseFieldPaths' holds at most {_MAX_RESPONSE_PATHS} paths",
            param="additionalModelResponseFieldPaths",
        )
    return paths or None


def _thinking(body: dict[str, Any], caps: ModelCapabilities) -> dict[str, Any] | None:
    """Claude extended thinking from `thinking` or OpenAI's `reasoning_effort`; 400 for other models."""
    thinking = _dict(body, "thinking")
    effort = body.get("reasoning_effort")
    param = "thinking" if thinking is not None else "reasoning_effort"
    if thinking is None and effort is None:
        return None
    if not caps.reasoning:
        raise TranslationError(
            f"'{param}' is not supported by this model", param=param, code="unsupported_parameter"
        )
    if thinking is not None:
        return thinking
    if not isinstance(effort, str) or effort not in REASONING_BUDGETS:
        raise TranslationError(
            "'reasoning_effort' must be one of: low, medium, high", param="reasoning_effort"
        )
    return {"type": "enabled", "budget_tokens": REASONING_BUDGETS[effort]}


def _budget(thinking: dict[str, Any]) -> int | None:
    """budget_tokens of enabled thinking; below maxTokens, which Converse caps at a 32-bit Integer."""
    budget = thinking.get("budget_tokens")
    if budget is None or thinking.get("type") != "enabled":
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget < MAX_TOKENS:
        raise TranslationError(
            f"thinking.budget_tokens must be an integer between 1 and {MAX_TOKENS - 1}", param="thinking.budget_tokens"
        )
    return budget


def _fit_budget(thinking: dict[str, Any], max_tokens: int | None, explicit: bool, limit_param: str) -> int | None:
    """Claude needs max_tokens > budget_tokens: shrink a reasoning_effort budget, or raise maxTokens."""
    budget = _budget(thinking)
    if budget is None:
        return max_tokens
    if max_tokens is None:
        return min(budget + 4096, MAX_TOKENS)
    if max_tokens > budget or explicit:
        return max_tokens
    if max_tokens <= MIN_THINKING_BUDGET:
        raise TranslationError(
            f"{limit_param} must be greater than {MIN_THINKING_BUDGET} when reasoning is enabled",
            param=limit_param,
        )
    thinking["budget_tokens"] = max_tokens - 1
    return max_tokens


def extension_fields(
    body: dict[str, Any], caps: ModelCapabilities, *, stream: bool, max_tokens: int | None
) -> tuple[dict[str, Any], int | None, bool]:
    """Converse body fields from vendor extensions, the (possibly raised) maxTokens, and thinking on/off."""
    extra = dict(_dict(body, "additionalModelRequestFields") or {})
    thinking = _thinking(body, caps)
    if thinking is not None:
        thinking = dict(thinking)
        max_tokens = _fit_budget(thinking, max_tokens, "thinking" in body, max_tokens_param(body))
        extra["thinking"] = thinking
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= MAX_TOKENS:
            raise TranslationError("'top_k' must be a non-negative integer", param="top_k")
        extra["top_k"] = top_k
    fields: dict[str, Any] = {
        "guardrailConfig": _guardrail(body, stream),
        "additionalModelRequestFields": extra or None,
        "additionalModelResponseFieldPaths": _response_paths(body),
        "performanceConfig": _performance(body),
        "requestMetadata": _request_metadata(body),
    }
    enabled = thinking is not None and thinking.get("type") == "enabled"
    return {k: v for k, v in fields.items() if v}, max_tokens, enabled
