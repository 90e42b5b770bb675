"""openai_request_to_converse: a chat-completions body -> the Converse request body (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from translators.openai_bedrock.caching import apply_cache_points
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.errors import TranslationError
from translators.openai_bedrock.extensions import extension_fields
from translators.openai_bedrock.messages import convert_messages, finalize
from translators.openai_bedrock.params import check_fields, inference_config, max_tokens, stream_flags
from translators.openai_bedrock.tools import plan_tools


@dataclass(frozen=True)
class ConverseRequest:
    body: dict[str, Any]  # JSON body for /model/{id}/converse and /converse-stream (no modelId inside)
    stream: bool
    include_usage: bool  # stream_options.include_usage
    tool_names: Mapping[str, str] = field(default_factory=dict)  # Bedrock-safe name -> client's name
    json_tool: str | None = None  # forced tool carrying response_format; its input becomes content
    max_tokens: int | None = None


def openai_request_to_converse(
    body: dict[str, Any], *, capabilities: ModelCapabilities, drop_unsupported: bool = False
) -> ConverseRequest:
    """Map a chat-completions request to a Converse body.

    Raises TranslationError(param=...) for anything invalid or not expressible in Converse.
    """
    if not isinstance(body, dict):
        raise TranslationError("request body must be a JSON object")
    fields = check_fields(body, drop_unsupported=drop_unsupported)
    stream, include_usage = stream_flags(fields)
    limit = max_tokens(fields)
    extensions, limit, thinking = extension_fields(fields, capabilities, stream=stream, max_tokens=limit)
    conv = convert_messages(fields.get("messages"), capabilities)
    plan = plan_tools(fields, conv, capabilities, thinking=thinking)
    if stream and plan.tool_config and not capabilities.streaming_tools:
        # Bedrock lists "streaming tool use" apart from tool use (Mistral Large: Converse only).
        raise TranslationError(
            "this model does not support tools (or a JSON response_format, or tool-call history) while "
            "streaming: send stream=false", param="stream", code="unsupported_parameter",
        )
    conv.system += [{"text": text} for text in plan.instructions]
    finalize(conv, capabilities)
    converse: dict[str, Any] = {
        "messages": conv.messages,
        "system": conv.system,
        "inferenceConfig": inference_config(fields, limit),
        "toolConfig": plan.tool_config,
        "outputConfig": plan.output_config,
        **extensions,
    }
    apply_cache_points(converse, fields, capabilities)
    return ConverseRequest(
        body={k: v for k, v in converse.items() if v},
        stream=stream,
        include_usage=include_usage,
        tool_names=MappingProxyType(plan.tool_names),
        json_tool=plan.json_tool,
        max_tokens=limit,
    )
