"""anthropic_request_to_converse: an Anthropic Messages body -> a Bedrock Converse body, for models that do not
speak the Messages API natively (pure).

Per field: system/messages (converse_messages.py), tools/tool_choice -> toolConfig, max_tokens/temperature/
top_p/stop_sequences -> inferenceConfig, top_k and thinking -> additionalModelRequestFields,
output_config.format -> outputConfig.textFormat (models with native structured output), cache_control ->
cachePoint (models with prompt caching). Hints Converse cannot carry (metadata, output_config.effort,
context_management, service_tier, disable_parallel_tool_use, defer_loading) are dropped and listed in
`stripped`; features only Anthropic runs (server tools, mcp_servers, container) are a 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from translators.anthropic_bedrock.blocks import note, server_tool_error, tool_kind
from translators.anthropic_bedrock.common import core_fields, metadata_user_id, system_prompt
from translators.anthropic_bedrock.converse_messages import convert_conversation
from translators.anthropic_bedrock.errors import TranslationError
from translators.anthropic_bedrock.tokens import estimate_input_tokens
from translators.openai_bedrock.caching import append_point, apply_cache_points, cache_point
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.mappings import MAX_TOKENS, safe_tool_name
from translators.openai_bedrock.messages import Conversation

TRANSLATED = frozenset(
    {
        "model", "messages", "system", "max_tokens", "stream", "temperature", "top_p", "top_k", "stop_sequences",
        "tools", "tool_choice", "thinking", "output_config", "output_format", "metadata", "anthropic_beta",
    }
)
_DEFAULT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class AnthropicConverseRequest:
    body: dict[str, Any]  # JSON body for /model/{id}/converse and /converse-stream (no modelId inside)
    model: str  # what the client asked for (echoed in responses)
    stream: bool
    max_tokens: int
    tool_names: Mapping[str, str] = field(default_factory=dict)  # Bedrock-safe name -> client's name
    stop_sequences: tuple[str, ...] = ()
    stripped: tuple[str, ...] = ()
    user_id: str | None = None
    attribution: Mapping[str, str] = field(default_factory=dict)
    input_estimate: int = 1  # estimate_input_tokens of the client's body (message_start's input_tokens)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise TranslationError(f"{key} must be a number between {low:g} and {high:g}", param=key)
    return value


def _stops(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise TranslationError("stop_sequences must be a list of strings", param="stop_sequences")
    return [s for s in value if s]


def _tool_spec(tool: dict[str, Any], i: int, names: dict[str, str], caps: ModelCapabilities) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError("tool name must be a non-empty string", param=f"tools[{i}].name")
    safe = safe_tool_name(name)
    if safe in names:
        raise TranslationError(f"duplicate tool name {name!r}", param=f"tools[{i}].name")
    names[safe] = name
    schema = tool.get("input_schema")
    schema = _DEFAULT_SCHEMA if schema is None else schema
    if not isinstance(schema, dict):
        raise TranslationError("input_schema must be a JSON schema object", param=f"tools[{i}].input_schema")
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise TranslationError("tool description must be a string", param=f"tools[{i}].description")
    description = description or name  # Bedrock rejects an empty description
    spec: dict[str, Any] = {"name": safe, "description": description, "inputSchema": {"json": schema}}
    if tool.get("strict") is True and caps.native_json_schema:
        spec["strict"] = True
    return {"toolSpec": spec}


def _choice(value: Any, names: dict[str, str]) -> dict[str, Any] | str | None:
    """Converse toolChoice, "none", or None (not given). disable_parallel_tool_use has no Converse twin."""
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind in ("auto", "any"):
        return {kind: {}}
    if kind == "none":
        return "none"
    if kind == "tool":
        name = value.get("name")
        if not isinstance(name, str) or safe_tool_name(name) not in names:
            raise TranslationError(f"tool_choice names an unknown tool {name!r}", param="tool_choice.name")
        return {"tool": {"name": safe_tool_name(name)}}
    raise TranslationError("tool_choice.type must be auto, any, tool or none", param="tool_choice.type")


def _tool_config(
    body: dict[str, Any], conv: Conversation, caps: ModelCapabilities, stripped: list[str]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise TranslationError("tools must be a list", param="tools")
    names: dict[str, str] = {}
    specs: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise TranslationError("a tool must be an object", param=f"tools[{i}]")
        kind = tool_kind(tool)
        if kind == "tool_search":
            stripped.append(f"tools[{i}] (tool search)")
            continue
        if kind != "custom":
            raise server_tool_error(tool, f"tools[{i}]") if kind == "server" else TranslationError(
                f"Anthropic-defined tool type {tool.get('type')!r} needs a Claude model", param=f"tools[{i}].type",
                code="unsupported_tool")
        if not caps.tools:
            raise TranslationError("this model does not support tools", param="tools", code="unsupported_parameter")
        if "defer_loading" in tool:
            note(stripped, "tools[].defer_loading")
        specs.append(_tool_spec(tool, i, names, caps))
        append_point(specs, cache_point(tool, f"tools[{i}]"))
    choice = _choice(body.get("tool_choice"), names) if specs else None
    if choice == "none" and not conv.has_tool_blocks:
        return None, names  # Converse has no "none": leave the tools out
    for safe, original in conv.tool_names.items():  # Bedrock wants a spec for every tool in the history
        if safe not in names:
            names[safe] = original
            spec = {"name": safe, "description": original, "inputSchema": {"json": _DEFAULT_SCHEMA}}
            specs.append({"toolSpec": spec})
    if not specs:
        return None, names
    config: dict[str, Any] = {"tools": specs}
    if isinstance(choice, dict):
        config["toolChoice"] = choice
    return config, names


def _extra_fields(body: dict[str, Any], caps: ModelCapabilities) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= MAX_TOKENS:
            raise TranslationError("top_k must be a non-negative integer", param="top_k")
        extra["top_k"] = top_k
    thinking = body.get("thinking")
    if thinking is not None and not isinstance(thinking, dict):
        raise TranslationError("thinking must be an object", param="thinking")
    if thinking is not None and thinking.get("type") != "disabled":
        if not caps.reasoning:
            raise TranslationError(
                "extended thinking is not supported by this model", param="thinking", code="unsupported_parameter"
            )
        budget = thinking.get("budget_tokens")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)
                                   or not 1 <= budget < MAX_TOKENS):  # below maxTokens, a 32-bit Integer
            raise TranslationError(f"thinking.budget_tokens must be an integer between 1 and {MAX_TOKENS - 1}",
                                   param="thinking.budget_tokens")
        extra["thinking"] = thinking
    return extra


def _output_config(body: dict[str, Any], caps: ModelCapabilities, stripped: list[str]) -> dict[str, Any] | None:
    raw = body.get("output_config")
    if raw is not None and not isinstance(raw, dict):
        raise TranslationError("output_config must be an object", param="output_config")
    config: dict[str, Any] = raw or {}
    from_config = "format" in config  # else the structured-outputs beta's first spelling, output_format
    param = "output_config.format" if from_config else "output_format"
    fmt = config.get("format", body.get("output_format"))
    if "effort" in config:
        stripped.append("output_config.effort")
    if fmt is None:
        return None
    schema = fmt.get("schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
    if not isinstance(schema, dict):
        raise TranslationError(f"{param} must be {{type: json_schema, schema}}",
                               param="output_config" if from_config else param)
    if not caps.native_json_schema:
        raise TranslationError(f"structured outputs ({param}) are not supported by this model",
                               param=param, code="unsupported_parameter")
    definition = {"schema": json.dumps(schema, separators=(",", ":"), ensure_ascii=False), "name": "response"}
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


def anthropic_request_to_converse(body: dict[str, Any], *, capabilities: ModelCapabilities) -> AnthropicConverseRequest:
    """Map a Messages request to a Converse body; TranslationError(param=...) for what Converse cannot express."""
    core = core_fields(body)
    caps = capabilities
    stripped = [key for key in body if key not in TRANSLATED]
    if body.get("metadata") is not None:
        stripped.append("metadata")  # Converse requestMetadata's charset rejects Claude Code's JSON user_id
    system = system_prompt(body.get("system"), core.messages)
    conv = convert_conversation(system, core.messages, caps)
    tool_config, names = _tool_config(body, conv, caps, stripped)
    if core.stream and tool_config and not caps.streaming_tools:
        raise TranslationError("this model does not support tools while streaming: send stream=false",
                               param="stream", code="unsupported_parameter")
    stops = _stops(body.get("stop_sequences"))
    inference: dict[str, Any] = {"maxTokens": core.max_tokens}
    for key, target in (("temperature", "temperature"), ("top_p", "topP")):
        value = _number(body, key, 0, 1)
        if value is not None:
            inference[target] = value
    if stops:
        inference["stopSequences"] = stops
    converse: dict[str, Any] = {
        "messages": conv.messages,
        "system": conv.system,
        "inferenceConfig": inference,
        "toolConfig": tool_config,
        "additionalModelRequestFields": _extra_fields(body, caps),
        "outputConfig": _output_config(body, caps, stripped),
    }
    apply_cache_points(converse, {}, caps)
    return AnthropicConverseRequest(
        body={k: v for k, v in converse.items() if v},
        model=core.model,
        stream=core.stream,
        max_tokens=core.max_tokens,
        tool_names=MappingProxyType(names),
        stop_sequences=tuple(stops),
        stripped=tuple(stripped),
        user_id=metadata_user_id(body.get("metadata")),
        attribution=MappingProxyType(system.attribution),
        input_estimate=estimate_input_tokens(body),
    )
