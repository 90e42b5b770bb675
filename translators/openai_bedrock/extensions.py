"""Bedrock vendor extensions sent at top level (openai SDK ``extra_body``, LangChain ``model_kwargs``).

PITFALLS #34: these arrive as ordinary top-level JSON fields, so they are read from the body itself.
"""

from __future__ import annotations

from typing import Any

from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.errors import TranslationError
from translators.openai_bedrock.mappings import MIN_THINKING_BUDGET, REASONING_BUDGETS


def _dict(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TranslationError(f"'{key}' must be an object", param=key)
    return value


def _guardrail(body: dict[str, Any], stream: bool) -> dict[str, Any] | None:
    config = _dict(body, "guardrailConfig")
    if config is None:
        return None
    if not config.get("guardrailIdentifier") or not config.get("guardrailVersion"):
        raise TranslationError(
            "'guardrailConfig' needs guardrailIdentifier and guardrailVersion", param="guardrailConfig"
        )
    if not stream:
        # streamProcessingMode exists only in ConverseStream's GuardrailStreamConfiguration.
        config = {k: v for k, v in config.items() if k != "streamProcessingMode"}
    return config


def _request_metadata(body: dict[str, Any]) -> dict[str, str] | None:
    meta = _dict(body, "requestMetadata")
    if meta is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise TranslationError("'requestMetadata' must map strings to strings", param="requestMetadata")
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


def _fit_budget(thinking: dict[str, Any], max_tokens: int | None, explicit: bool) -> int | None:
    """Claude needs max_tokens > budget_tokens: shrink a reasoning_effort budget, or raise maxTokens."""
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or thinking.get("type") != "enabled":
        return max_tokens
    if max_tokens is None:
        return budget + 4096
    if max_tokens > budget or explicit:
        return max_tokens
    if max_tokens <= MIN_THINKING_BUDGET:
        raise TranslationError(
            f"max_tokens must be greater than {MIN_THINKING_BUDGET} when reasoning is enabled",
            param="max_tokens",
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
        max_tokens = _fit_budget(thinking, max_tokens, explicit="thinking" in body)
        extra["thinking"] = thinking
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise TranslationError("'top_k' must be a non-negative integer", param="top_k")
        extra["top_k"] = top_k
    fields: dict[str, Any] = {
        "guardrailConfig": _guardrail(body, stream),
        "additionalModelRequestFields": extra or None,
        "additionalModelResponseFieldPaths": _response_paths(body),
        "performanceConfig": _dict(body, "performanceConfig"),
        "requestMetadata": _request_metadata(body),
    }
    enabled = thinking is not None and thinking.get("type") == "enabled"
    return {k: v for k, v in fields.items() if v}, max_tokens, enabled
