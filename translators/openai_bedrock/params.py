"""Top-level request fields: which are accepted, ignored, unsupported or unknown; inferenceConfig."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from translators.openai_bedrock.errors import TranslationError
from translators.openai_bedrock.mappings import MAX_TEMPERATURE, MAX_TOKENS

# Fields with a translation elsewhere (request.py, messages.py, tools.py, extensions.py).
TRANSLATED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "tools",
        "tool_choice",
        "functions",
        "function_call",
        "response_format",
        "reasoning_effort",
    }
)
# OpenAI fields that are harmless to ignore (PITFALLS #13: parallel_tool_calls is never forwarded).
IGNORED = frozenset(
    {
        "user",
        "seed",
        "store",
        "metadata",
        "service_tier",
        "parallel_tool_calls",
        "prompt_cache_key",
        "safety_identifier",
    }
)
# What OpenAI accepts for the ignored fields: a value of another type is OpenAI's 400, not ignored.
IGNORED_TYPES: dict[str, tuple[type, ...]] = {
    "user": (str,), "seed": (int,), "store": (bool,), "metadata": (dict,), "service_tier": (str,),
    "parallel_tool_calls": (bool,), "prompt_cache_key": (str,), "safety_identifier": (str,),
}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object"}

# Vendor extensions: arrive at top level via the openai SDK's extra_body or LangChain's model_kwargs.
EXTENSIONS = frozenset(
    {
        "guardrailConfig",
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "performanceConfig",
        "requestMetadata",
        "thinking",
        "top_k",
        "prompt_caching",
    }
)


def _nonzero(value: Any) -> bool:
    return value is not None and value != 0


# OpenAI fields Bedrock cannot honour: predicate says whether this value needs something we cannot do.
UNSUPPORTED: dict[str, Callable[[Any], bool]] = {
    "n": lambda v: v is not None and v != 1,
    "logprobs": lambda v: bool(v),
    "top_logprobs": lambda v: v is not None,
    "logit_bias": lambda v: bool(v),
    "frequency_penalty": _nonzero,
    "presence_penalty": _nonzero,
    "audio": lambda v: v is not None,
    "modalities": lambda v: v is not None and v != ["text"],
    "prediction": lambda v: v is not None,
    "web_search_options": lambda v: v is not None,
    "verbosity": lambda v: v is not None,
}


def check_fields(body: dict[str, Any], *, drop_unsupported: bool) -> dict[str, Any]:
    """Reject unknown fields like OpenAI does; reject (or drop) fields Bedrock cannot honour."""
    kept: dict[str, Any] = {}
    for key, value in body.items():
        if key in UNSUPPORTED:
            if UNSUPPORTED[key](value) and not drop_unsupported:
                raise TranslationError(
                    f"'{key}' is not supported by this gateway's Bedrock backend "
                    "(set LLM_GATEWAY_DROP_UNSUPPORTED_PARAMS=true to drop it silently)",
                    param=key,
                    code="unsupported_parameter",
                )
            continue
        if key in IGNORED:
            _check_ignored(key, value)
            continue
        if key not in TRANSLATED and key not in EXTENSIONS:
            raise TranslationError(f"Unrecognized request argument supplied: {key}", param=key)
        kept[key] = value
    return kept


def _check_ignored(key: str, value: Any) -> None:
    kinds = IGNORED_TYPES[key]
    wrong_bool = isinstance(value, bool) and bool not in kinds  # True is an int to Python, not to OpenAI
    if value is not None and (wrong_bool or not isinstance(value, kinds)):
        raise TranslationError(f"Invalid type for '{key}': expected {_TYPE_NAMES[kinds[0]]}.", param=key,
                               code="invalid_type")


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise TranslationError(f"'{key}' must be a number between {low:g} and {high:g}", param=key)
    return value


def max_tokens_param(body: dict[str, Any]) -> str:
    """Which of the two fields sets the limit: max_completion_tokens wins over the deprecated max_tokens."""
    return "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"


def max_tokens(body: dict[str, Any]) -> int | None:
    key = max_tokens_param(body)
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TranslationError(f"'{key}' must be an integer >= 1", param=key)
    if value > MAX_TOKENS:
        raise TranslationError(f"'{key}' must be at most {MAX_TOKENS}", param=key)
    return value


def _stop_sequences(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise TranslationError("'stop' must be a string or a list of strings", param="stop")
    kept = [s for s in value if s]
    return kept or None


def inference_config(body: dict[str, Any], max_tokens_value: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if max_tokens_value is not None:
        config["maxTokens"] = max_tokens_value
    temperature = _number(body, "temperature", 0, 2)
    if temperature is not None:
        # OpenAI's scale runs to 2, Converse's to 1 (every Bedrock model's): above 1 asks for the most random
        # sampling, which on Bedrock is 1. A 400 would refuse values OpenAI clients send as valid (e.g. 1.2).
        config["temperature"] = min(temperature, MAX_TEMPERATURE)
    top_p = _number(body, "top_p", 0, 1)
    if top_p is not None:
        config["topP"] = top_p
    stops = _stop_sequences(body.get("stop"))
    if stops:
        config["stopSequences"] = stops
    return config


def stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    """(stream, include_usage); stream_options is consumed here, never forwarded (PITFALLS #27)."""
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise TranslationError("'stream' must be a boolean", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise TranslationError("'stream_options' must be an object", param="stream_options")
    include_usage = options.get("include_usage", False)
    if include_usage is not None and not isinstance(include_usage, bool):
        raise TranslationError("'include_usage' must be a boolean", param="stream_options.include_usage")
    return stream, bool(stream and include_usage)
