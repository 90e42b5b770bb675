"""anthropic_request_to_invoke: an Anthropic Messages body -> a Bedrock InvokeModel body for Claude (pure).

Bedrock takes the Messages API natively ("Anthropic Claude Messages API" in the Bedrock user guide): the body
minus `model` and `stream`, plus `anthropic_version: "bedrock-2023-05-31"`, with betas in `anthropic_beta`
instead of a header. What Bedrock rejects ("Extra inputs are not permitted") is taken out here, per the model's
AnthropicCapabilities; everything else is passed through untouched (the client's objects are never mutated:
a block is copied only where something inside it changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from translators.anthropic_bedrock.blocks import clean_messages, clean_system, clean_tools
from translators.anthropic_bedrock.capabilities import AnthropicCapabilities
from translators.anthropic_bedrock.common import (
    core_fields,
    is_billing_block,
    metadata_user_id,
    split_betas,
    system_prompt,
)
from translators.anthropic_bedrock.errors import TranslationError
from translators.anthropic_bedrock.tokens import estimate_input_tokens

ANTHROPIC_VERSION = "bedrock-2023-05-31"
MIN_THINKING_BUDGET = 1024
# Top-level fields Bedrock's InvokeModel accepts for Claude; anything else is stripped (and listed in `stripped`).
INVOKE_FIELDS = frozenset(
    {
        "anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "stop_sequences", "temperature",
        "top_p", "top_k", "tools", "tool_choice", "thinking", "metadata", "output_config", "context_management",
    }
)
@dataclass(frozen=True)
class InvokeRequest:
    body: dict[str, Any]  # JSON body for /model/{id}/invoke and /invoke-with-response-stream
    model: str  # what the client asked for (echoed in responses)
    stream: bool
    max_tokens: int
    betas: tuple[str, ...] = ()  # sent as anthropic_beta
    dropped_betas: tuple[str, ...] = ()  # asked for, not in allowed_betas
    stripped: tuple[str, ...] = ()  # what was taken out or changed for Bedrock (for logs / a response header)
    user_id: str | None = None  # metadata.user_id, for attribution (Claude Code: a JSON string)
    attribution: Mapping[str, str] = field(default_factory=dict)  # Claude Code's billing header (cc_version, ...)
    input_estimate: int = 1  # estimate_input_tokens of the body, for admission


def _thinking(value: Any, caps: AnthropicCapabilities, limit: int, stripped: list[str]) -> Any:
    """The thinking config to send, or None to send none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TranslationError("thinking must be an object", param="thinking")
    kind = value.get("type")
    if kind == "disabled":
        if not caps.thinking:
            stripped.append("thinking")
            return None
        return value
    if not caps.thinking:
        raise TranslationError(
            "extended thinking is not supported by this model", param="thinking", code="unsupported_parameter"
        )
    if kind == "adaptive" and not caps.adaptive_thinking:
        # Claude Code asks for adaptive thinking on models that have it; elsewhere the nearest is a full budget.
        if limit - 1 < MIN_THINKING_BUDGET:
            stripped.append("thinking")
            return None
        stripped.append("thinking.type=adaptive")
        return {"type": "enabled", "budget_tokens": limit - 1}
    return value


def _output_config(body: dict[str, Any], caps: AnthropicCapabilities, stripped: list[str]) -> dict[str, Any] | None:
    config = body.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise TranslationError("output_config must be an object", param="output_config")
    config = dict(config or {})
    param = "output_config.format" if "format" in config else "output_format"
    if body.get("output_format") is not None:  # the structured-outputs beta's first spelling
        config.setdefault("format", body["output_format"])
        stripped.append("output_format")
    if "effort" in config and not caps.effort:
        del config["effort"]
        stripped.append("output_config.effort")
    if "format" in config and not caps.structured_outputs:
        raise TranslationError(
            f"structured outputs ({param}) are not supported by this model on Bedrock",
            param=param,
            code="unsupported_parameter",
        )
    return config or None


def _metadata(value: Any, caps: AnthropicCapabilities, stripped: list[str]) -> dict[str, Any] | None:
    """Bedrock accepts metadata.user_id only (any other key is a 400); the value is kept as sent."""
    user_id = metadata_user_id(value)
    if value is None:
        return None
    if not caps.metadata or user_id is None:
        stripped.append("metadata")
        return None
    if set(value) != {"user_id"}:
        stripped.append("metadata (keys other than user_id)")
        return {"user_id": user_id}
    return dict(value)


def _betas(header: str | None, body: dict[str, Any], allowed: frozenset[str]) -> tuple[list[str], list[str]]:
    names = split_betas(header, body.get("anthropic_beta"))
    return [n for n in names if n in allowed], [n for n in names if n not in allowed]


def anthropic_request_to_invoke(
    body: dict[str, Any],
    *,
    beta_header: str | None,
    allowed_betas: frozenset[str],
    capabilities: AnthropicCapabilities,
    keep_billing_header: bool = True,
) -> InvokeRequest:
    """Map a Messages request to an InvokeModel body; TranslationError(param=...) for what cannot go to Bedrock."""
    core = core_fields(body)
    caps = capabilities
    stripped: list[str] = []
    system = system_prompt(body.get("system"), core.messages)
    if system.lifted:
        stripped.append(f"messages (role system, {system.lifted}) -> system")
    out: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION}
    for key, value in body.items():
        if key in INVOKE_FIELDS:
            out[key] = value
        elif key not in ("model", "stream", "output_format"):
            stripped.append(key)
    out["anthropic_version"] = ANTHROPIC_VERSION
    out["messages"] = clean_messages(system.messages, caps, stripped)
    system_value = system.value
    if isinstance(system_value, list) and not keep_billing_header:
        system_value = [b for b in system_value if not is_billing_block(b)]
    if system_value is not None:
        out["system"] = clean_system(system_value, caps, stripped)
    if body.get("tools") is not None:
        out["tools"] = clean_tools(body["tools"], caps, stripped)
    optional = {
        "thinking": _thinking(body.get("thinking"), caps, core.max_tokens, stripped),
        "output_config": _output_config(body, caps, stripped),
        "metadata": _metadata(body.get("metadata"), caps, stripped),
    }
    for key, value in optional.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    if "context_management" in out and not caps.context_management:
        del out["context_management"]
        stripped.append("context_management")
    betas, dropped = _betas(beta_header, body, allowed_betas)
    out.pop("anthropic_beta", None)
    if betas:
        out["anthropic_beta"] = betas
    return InvokeRequest(
        body=out,
        model=core.model,
        stream=core.stream,
        max_tokens=core.max_tokens,
        betas=tuple(betas),
        dropped_betas=tuple(dropped),
        stripped=tuple(stripped),
        user_id=metadata_user_id(body.get("metadata")),
        attribution=MappingProxyType(system.attribution),
        input_estimate=estimate_input_tokens(out),
    )
