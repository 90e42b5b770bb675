"""Small constant tables shared by the request, response and stream translators."""

from __future__ import annotations

import hashlib
import re

# Bedrock stopReason -> OpenAI finish_reason (PITFALLS #25). Unknown values map to "stop".
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


# Image blocks: data-URL mime type -> Converse image format. Bedrock caps one image at 3.75 MB decoded.
IMAGE_FORMATS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
MAX_IMAGE_BYTES = 3_932_160  # 3.75 MiB

# Converse's inferenceConfig limits (service model): maxTokens is a 32-bit Integer, temperature at most 1.
MAX_TOKENS = 2**31 - 1
MAX_TEMPERATURE = 1.0

# reasoning_effort -> Claude extended-thinking budget_tokens.
REASONING_BUDGETS: dict[str, int] = {"low": 1024, "medium": 4096, "high": 16384}
MIN_THINKING_BUDGET = 1024

# Placeholders where Bedrock rejects empty text.
EMPTY_TOOL_RESULT = "(empty)"
CONVERSATION_START = "(conversation start)"
MIDDLE_SYSTEM_PREFIX = "System: "

JSON_TOOL_NAME = "json_response"
JSON_OBJECT_INSTRUCTION = "Respond with a single JSON object and nothing else."

_SAFE_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # fullmatch: `$` would accept a final newline
_UNSAFE_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_SAFE_TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")  # Converse's toolUseId
_UNSAFE_ID_CHARS = re.compile(r"[^a-zA-Z0-9_.:-]")


def _safe(value: str, safe: re.Pattern[str], unsafe: re.Pattern[str]) -> str:
    if safe.fullmatch(value):
        return value
    digest = hashlib.sha256(value.encode(errors="surrogatepass")).hexdigest()[:8]
    return f"{unsafe.sub('_', value)[:55]}_{digest}"


def safe_tool_name(name: str) -> str:
    """Bedrock-safe tool name; unsafe names get a hash suffix so the mapping is reversible (PITFALLS #12)."""
    return _safe(name, _SAFE_TOOL_NAME, _UNSAFE_CHARS)


def safe_tool_use_id(call_id: str) -> str:
    """Bedrock-safe toolUseId: another provider's ids in the history get a hash suffix, the same for a call and
    its result (Bedrock's own ids, echoed back by clients, pass unchanged)."""
    return _safe(call_id, _SAFE_TOOL_USE_ID, _UNSAFE_ID_CHARS)
