"""The request checks OpenAI applies before a model runs, with its messages, ``param`` paths and codes.

Only what a gateway could plausibly get wrong is checked; unknown top-level fields are accepted (OpenAI
tolerates many) and listed by ``unknown_fields`` so tests can see what a gateway passed through.
"""

from __future__ import annotations

import re
from typing import Any

from openai_emulator.asgi import invalid

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
CHAT_FIELDS = frozenset({
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "metadata", "modalities", "n", "parallel_tool_calls", "prediction",
    "presence_penalty", "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
    "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    "data_sources", "user_security_context",   # Azure's additions
})
EMBEDDING_FIELDS = frozenset({"model", "input", "dimensions", "encoding_format", "user"})
_TOOL_TYPES = ("function", "custom")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def unknown_fields(body: dict[str, Any], known: frozenset[str]) -> list[str]:
    return sorted(set(body) - known)


def require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("you must provide a model parameter", param="model", code="missing_required_parameter")
    return model


def validate_chat(body: dict[str, Any]) -> None:
    """Raise a 400 OpenAIError for the first problem found, like the API does."""
    messages = body.get("messages")
    if messages is None:
        raise invalid("Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array "
            "instead.", param="messages", code="empty_array",
        )
    for index, message in enumerate(messages):
        _validate_message(index, message)
    _validate_shapes(body)
    _validate_limits(body)
    _validate_tools(body)
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                      param="stream_options", code="invalid_value")
    if body.get("n", 1) not in (1, None):
        raise invalid("The emulator answers n=1 only.", param="n", code="unsupported_value")


def _validate_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid(f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type")
    role = message.get("role")
    if role not in ROLES:
        supported = ", ".join(f"'{r}'" for r in ROLES)
        raise invalid(f"Invalid value: '{role}'. Supported values are: {supported}.", param=f"{where}.role",
                      code="invalid_value")
    if role == "tool" and not message.get("tool_call_id"):
        raise invalid(f"Missing required parameter: '{where}.tool_call_id'.", param=f"{where}.tool_call_id",
                      code="missing_required_parameter")


def _validate_shapes(body: dict[str, Any]) -> None:
    for name in ("response_format", "stream_options"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise invalid(f"Invalid type for '{name}': expected an object.", param=name, code="invalid_type")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
        isinstance(stop, list) and all(isinstance(s, str) for s in stop)
    ):
        raise invalid("Invalid type for 'stop': expected a string or an array of strings.", param="stop",
                      code="invalid_type")


def _validate_limits(body: dict[str, Any]) -> None:
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise invalid(f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got "
                          f"{value} instead.", param=name, code="integer_below_min_value")


def _function_name(index: int, tool: Any) -> str | None:
    """The function name of ``tools[index]`` (None for a custom tool), checked as OpenAI checks it."""
    where = f"tools[{index}]"
    if not isinstance(tool, dict) or tool.get("type") not in _TOOL_TYPES:
        raise invalid(f"Invalid value for '{where}.type': expected 'function' or 'custom'.", param=f"{where}.type",
                      code="invalid_value")
    if tool["type"] == "custom":
        return None
    function = tool.get("function")
    if not isinstance(function, dict):
        raise invalid(f"Missing required parameter: '{where}.function'.", param=f"{where}.function",
                      code="missing_required_parameter")
    name = function.get("name")
    if not (isinstance(name, str) and _TOOL_NAME.match(name)):
        raise invalid(f"Invalid '{where}.function.name': string does not match pattern '^[a-zA-Z0-9_-]+$'.",
                      param=f"{where}.function.name", code="invalid_value")
    if function.get("parameters") is not None and not isinstance(function["parameters"], dict):
        raise invalid(f"Invalid type for '{where}.function.parameters': expected an object.",
                      param=f"{where}.function.parameters", code="invalid_type")
    return name


def _validate_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid("Invalid type for 'tools': expected an array.", param="tools", code="invalid_type")
    names = [_function_name(index, tool) for index, tool in enumerate(tools or [])]
    choice = body.get("tool_choice")
    if choice is not None and not tools:
        raise invalid("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                      param="tool_choice")
    function = choice.get("function") if isinstance(choice, dict) else None
    forced = function.get("name") if isinstance(function, dict) else None
    if forced is not None and forced not in names:
        raise invalid(f"Invalid value for 'tool_choice': no function named '{forced}' was specified in the "
                      "'tools' parameter.", param="tool_choice")
