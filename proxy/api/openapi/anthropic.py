"""The Anthropic Messages API (proxy/api/messages.py)."""

from __future__ import annotations

from proxy.api.openapi.common import TIMESTAMP, Schema, integer, nullable, obj, ref, string

# --- the Anthropic Messages API ---------------------------------------------------------------------------------
ANTHROPIC_ERROR_TYPES = ["invalid_request_error", "authentication_error", "billing_error", "permission_error",
                         "not_found_error", "request_too_large", "rate_limit_error", "api_error", "overloaded_error",
                         "timeout_error"]
STOP_REASONS = ["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                "model_context_window_exceeded"]
_KNOWN_BLOCKS = ["text", "tool_use", "thinking", "redacted_thinking"]


def _block(kind: str, properties: dict[str, Schema], required: list[str]) -> Schema:
    return obj({"type": {"const": kind}, **properties}, ["type", *required], closed=False)


ANTHROPIC_SCHEMAS: dict[str, Schema] = {
    "AnthropicError": obj(
        {"type": {"const": "error"},
         "error": obj({"type": {"enum": ANTHROPIC_ERROR_TYPES}, "message": string()}, ["type", "message"])},
        ["type", "error"], description="Anthropic's error envelope: every error of /v1/messages the app answers.",
    ),
    "AnthropicMessageParam": obj(
        {"role": {"enum": ["user", "assistant", "system"],
                  "description": "`system` entries (Claude Code sends them) move into `system`."},
         "content": {"anyOf": [string(), {"type": "array", "items": {
             "type": "object", "required": ["type"], "properties": {"type": string()}}}]}},
        ["role", "content"], closed=False,
    ),
    "AnthropicMessagesRequest": obj(
        {"model": string("A catalog alias or Anthropic model name (`claude-sonnet-4-5-20250929`, ...).",
                         minLength=1, examples=["claude-3-haiku"]),
         "max_tokens": integer(minimum=1),
         "messages": {"type": "array", "minItems": 1, "items": ref("AnthropicMessageParam")},
         "system": {"anyOf": [string(), {"type": "array", "items": _block("text", {"text": string()}, ["text"])}]},
         "stream": nullable({"type": "boolean"}),
         "stop_sequences": {"type": "array", "items": string()},
         "temperature": {"type": "number", "minimum": 0, "maximum": 1},
         "top_p": {"type": "number", "minimum": 0, "maximum": 1},
         "top_k": integer(minimum=0),
         "tools": {"type": "array", "items": {"type": "object"}},
         "tool_choice": {"type": "object"},
         "thinking": {"type": "object"},
         "metadata": {"type": "object", "description": "Only `user_id` is passed on."},
         "output_config": {"type": "object"},
         "context_management": {"type": "object"},
         "anthropic_beta": {"anyOf": [string(), {"type": "array", "items": string()}]},
         "mcp_servers": {"type": "null", "description": "Not available on Bedrock: anything else is a 400."},
         "container": {"type": "null", "description": "Not available on Bedrock: anything else is a 400."}},
        ["model", "max_tokens", "messages"], closed=False,
        description="Anthropic's Messages body. Claude models take it natively (fields Bedrock rejects for the "
                    "model are stripped); other models go through Converse.",
    ),
    "AnthropicContentBlock": {"anyOf": [
        _block("text", {"text": string()}, ["text"]),
        _block("tool_use", {"id": string(), "name": string(), "input": {"type": "object"}},
               ["id", "name", "input"]),
        _block("thinking", {"thinking": string(), "signature": string()}, ["thinking"]),
        _block("redacted_thinking", {"data": string()}, ["data"]),
        {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "not": {
            "enum": _KNOWN_BLOCKS}}}, "description": "Other blocks Bedrock returns are passed on as they came."},
    ]},
    "AnthropicMessage": obj(
        {"id": string(), "type": {"const": "message"}, "role": {"const": "assistant"}, "model": string(),
         "content": {"type": "array", "items": ref("AnthropicContentBlock")},
         "stop_reason": nullable({"enum": STOP_REASONS}), "stop_sequence": nullable(string()),
         "usage": obj({"input_tokens": integer(minimum=0), "output_tokens": integer(minimum=0),
                       "cache_creation_input_tokens": nullable(integer(minimum=0)),
                       "cache_read_input_tokens": nullable(integer(minimum=0))},
                      ["input_tokens", "output_tokens"], closed=False)},
        ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"], closed=False,
        description="Anthropic's message; from Claude as Bedrock answered (fields it adds pass through).",
    ),
    "AnthropicStreamEventData": {"oneOf": [
        _block("message_start", {"message": ref("AnthropicMessage")}, ["message"]),
        _block("content_block_start", {"index": integer(minimum=0), "content_block": ref("AnthropicContentBlock")},
               ["index", "content_block"]),
        _block("content_block_delta", {"index": integer(minimum=0), "delta": {
            "type": "object", "required": ["type"], "properties": {"type": {"enum": [
                "text_delta", "input_json_delta", "thinking_delta", "signature_delta", "citations_delta"]}}}},
            ["index", "delta"]),
        _block("content_block_stop", {"index": integer(minimum=0)}, ["index"]),
        _block("message_delta", {"delta": obj({"stop_reason": nullable({"enum": STOP_REASONS}),
                                               "stop_sequence": nullable(string())}, closed=False),
                                 "usage": {"type": "object"}}, ["delta"]),
        _block("message_stop", {}, []),
        _block("ping", {}, []),
        ref("AnthropicError"),
    ]},
    "AnthropicStreamEvent": obj(
        {"event": {"enum": ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                            "message_delta", "message_stop", "ping", "error"]},
         "data": {"type": "string", "contentMediaType": "application/json",
                  "contentSchema": ref("AnthropicStreamEventData")},
         "id": string(), "retry": integer()},
        ["event", "data"],
        description="`event: <type>` then `data: <json>` whose `type` repeats it; `ping` in silent stretches, "
                    "`error` for a failure after the first byte. The stream ends with `message_stop`.",
    ),
    "AnthropicTokenCount": obj({"input_tokens": integer(minimum=0)}, ["input_tokens"]),
    "AnthropicModel": obj({"type": {"const": "model"}, "id": string(), "display_name": string(),
                           "created_at": TIMESTAMP}, ["type", "id", "display_name", "created_at"],
                          description="Anthropic's model object (with an `anthropic-version` header)."),
    "AnthropicModelList": obj(
        {"data": {"type": "array", "items": ref("AnthropicModel")}, "has_more": {"const": False},
         "first_id": nullable(string()), "last_id": nullable(string())},
        ["data", "has_more", "first_id", "last_id"]),
}


