"""Chat completions: the request and response schemas (translators/openai_bedrock/params.py)."""

from __future__ import annotations

from typing import Any

from proxy.api.openapi.common import Schema, integer, nullable, obj, ref, string

# --- chat completions: request -----------------------------------------------------------------------------------
CACHE_CONTROL_SCHEMA = obj(
    {"type": {"const": "ephemeral"}, "ttl": {"enum": ["5m", "1h"]}}, ["type"], closed=False,
    description="A Bedrock cache point right after this part, message or tool (the Anthropic/LiteLLM "
                "convention); dropped on models without prompt caching.",
)


def _part(kind: str, properties: dict[str, Schema], required: list[str], description: str) -> Schema:
    return obj({"type": {"const": kind}, **properties, "cache_control": ref("CacheControl")},
               ["type", *required], closed=False, description=description)


CHAT_REQUEST_SCHEMAS: dict[str, Schema] = {
    "CacheControl": CACHE_CONTROL_SCHEMA,
    "TextPart": _part("text", {"text": string()}, ["text"], "Text; blank text is dropped."),
    "RefusalPart": _part("refusal", {"refusal": string()}, ["refusal"], "A refusal, sent on as text."),
    "ImagePart": _part(
        "image_url",
        {"image_url": obj({"url": string("A base64 `data:` URL (image/png, jpeg, gif or webp; at most 3.75 MB "
                                         "decoded). http(s) URLs are not fetched: 400 `image_url_not_supported`.",
                                         minLength=1),
                           "detail": {"enum": ["auto", "low", "high"]}}, ["url"], closed=False)},
        ["image_url"], "An image, on models with vision.",
    ),
    "FilePart": _part(
        "file",
        {"file": obj({"file_data": string("A base64 `data:` URL or raw base64 (pdf, csv, doc, docx, xls, xlsx, html, "
                                          "txt, md; at most 4.5 MB decoded, 5 per request)."),
                      "filename": string("Its extension names the format when the mime type does not."),
                      "file_id": string("Not supported (no Files API): 400 `file_id_not_supported`.")},
                     closed=False)},
        ["file"], "A document, in user messages on models with document support.",
    ),
    "SystemMessage": obj(
        {"role": {"enum": ["system", "developer"]},
         "content": {"anyOf": [string(), {"type": "array", "items": ref("TextPart")}]},
         "name": string(), "cache_control": ref("CacheControl")},
        ["role", "content"], closed=False,
        description="Leading system/developer messages become Converse `system`; later ones stay in place as "
                    "user-side text.",
    ),
    "UserMessage": obj(
        {"role": {"const": "user"},
         "content": {"anyOf": [string(), {"type": "array", "items": {"anyOf": [
             ref("TextPart"), ref("ImagePart"), ref("FilePart"), ref("RefusalPart")]}}]},
         "name": string(), "cache_control": ref("CacheControl")},
        ["role", "content"], closed=False,
    ),
    "ToolCall": obj(
        {"id": string(minLength=1), "type": {"const": "function"},
         "function": obj({"name": string(minLength=1),
                          "arguments": string("A JSON object as text; empty means `{}`.")},
                         ["name"], closed=False)},
        ["id", "function"], closed=False,
    ),
    "ThinkingBlock": {"oneOf": [
        obj({"type": {"const": "thinking"}, "thinking": string(), "signature": string(),
             "index": integer()}, ["type", "thinking"], closed=False),
        obj({"type": {"const": "redacted_thinking"}, "data": string(), "index": integer()},
            ["type", "data"], closed=False),
    ]},
    "AssistantMessage": obj(
        {"role": {"const": "assistant"},
         "content": nullable({"anyOf": [string(), {"type": "array", "items": {"anyOf": [
             ref("TextPart"), ref("RefusalPart")]}}]}),
         "refusal": nullable(string()), "name": string(),
         "tool_calls": {"type": "array", "items": ref("ToolCall")},
         "reasoning_content": nullable(string("Reasoning text sent back; kept only with `reasoning_signature`.")),
         "reasoning_signature": nullable(string()),
         "thinking_blocks": {"type": "array", "items": ref("ThinkingBlock")},
         "cache_control": ref("CacheControl")},
        ["role"], closed=False,
        description="A last assistant message is a prefill on models that support it.",
    ),
    "ToolMessage": obj(
        {"role": {"const": "tool"},
         "content": nullable({"anyOf": [string(), {"type": "array", "items": {"anyOf": [
             ref("TextPart"), ref("ImagePart")]}}]}),
         "tool_call_id": string("Must match an earlier assistant tool call."),
         "cache_control": ref("CacheControl")},
        ["role", "tool_call_id"], closed=False,
    ),
    "ChatMessage": {"oneOf": [ref("SystemMessage"), ref("UserMessage"), ref("AssistantMessage"),
                              ref("ToolMessage")]},
    "FunctionDefinition": obj(
        {"name": string("Names outside `^[a-zA-Z0-9_-]{1,64}$` are mapped to safe names and back.", minLength=1),
         "description": string(), "parameters": {"type": "object", "description": "A JSON schema."},
         "strict": nullable({"type": "boolean"}), "cache_control": ref("CacheControl")},
        ["name"], closed=False,
    ),
    "Tool": obj({"type": {"const": "function"}, "function": ref("FunctionDefinition"),
                 "cache_control": ref("CacheControl")}, ["type", "function"], closed=False),
    "ToolChoice": {"anyOf": [
        {"enum": ["none", "auto", "required"]},
        obj({"type": {"const": "function"}, "function": obj({"name": string()}, ["name"], closed=False)},
            ["type", "function"], closed=False),
    ]},
    "ResponseFormat": {"oneOf": [
        obj({"type": {"enum": ["text", "json_object"]}}, ["type"], closed=False),
        obj({"type": {"const": "json_schema"},
             "json_schema": obj({"name": string(), "description": string(),
                                 "schema": {"type": "object"}, "strict": nullable({"type": "boolean"})},
                                closed=False)},
            ["type", "json_schema"], closed=False),
    ]},
    "PromptCaching": {"anyOf": [
        {"type": "boolean"},
        obj({"system": {"type": "boolean"}, "tools": {"type": "boolean"}, "messages": {"type": "boolean"},
             "ttl": {"enum": ["5m", "1h"]}}),
    ]},
}

_NEUTRAL = "Accepted only with the neutral value shown (Bedrock cannot honour others: 400 `unsupported_parameter`, " \
           "unless the gateway runs with LLM_GATEWAY_DROP_UNSUPPORTED_PARAMS=true)."

CHAT_REQUEST = obj(
    {
        "model": string("A catalog alias (`GET /v1/models`) or, where the catalog allows it, a Bedrock model id.",
                        minLength=1, examples=["claude-3-haiku"]),
        "messages": {"type": "array", "minItems": 1, "items": ref("ChatMessage")},
        "stream": nullable({"type": "boolean"}),
        "stream_options": nullable(obj({"include_usage": nullable({"type": "boolean"})}, closed=False)),
        "max_tokens": nullable(integer("Deprecated by OpenAI; `max_completion_tokens` wins.", minimum=1)),
        "max_completion_tokens": nullable(integer(minimum=1)),
        "temperature": nullable({"type": "number", "minimum": 0, "maximum": 2}),
        "top_p": nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "stop": nullable({"anyOf": [string(), {"type": "array", "items": string()}]}),
        "tools": nullable({"type": "array", "items": ref("Tool")}),
        "tool_choice": nullable(ref("ToolChoice")),
        "functions": nullable({"type": "array", "items": ref("FunctionDefinition"), "deprecated": True}),
        "function_call": nullable({"anyOf": [{"enum": ["none", "auto"]},
                                             obj({"name": string()}, ["name"], closed=False)], "deprecated": True}),
        "response_format": nullable(ref("ResponseFormat")),
        "reasoning_effort": nullable({"enum": ["low", "medium", "high"],
                                      "description": "Claude extended thinking (budget 1024/4096/16384 tokens)."}),
        # Accepted and ignored (translators/openai_bedrock/params.py IGNORED, IGNORED_TYPES).
        "user": nullable(string("Ignored.")),
        "seed": nullable(integer("Ignored.")),
        "store": nullable({"type": "boolean", "description": "Ignored."}),
        "metadata": nullable({"type": "object", "description": "Ignored."}),
        "service_tier": nullable(string("Ignored.")),
        "parallel_tool_calls": nullable({"type": "boolean", "description": "Ignored (never forwarded)."}),
        "prompt_cache_key": nullable(string("Ignored.")),
        "safety_identifier": nullable(string("Ignored.")),
        # OpenAI fields Bedrock cannot honour (params.py UNSUPPORTED): only their neutral values pass.
        "n": {"enum": [1, None], "description": _NEUTRAL},
        "logprobs": {"enum": [False, None], "description": _NEUTRAL},
        "top_logprobs": {"type": "null", "description": _NEUTRAL},
        "logit_bias": nullable({"type": "object", "maxProperties": 0, "description": _NEUTRAL}),
        "frequency_penalty": {"enum": [0, None], "description": _NEUTRAL},
        "presence_penalty": {"enum": [0, None], "description": _NEUTRAL},
        "audio": {"type": "null", "description": _NEUTRAL},
        "modalities": {"anyOf": [{"const": ["text"]}, {"type": "null"}], "description": _NEUTRAL},
        "prediction": {"type": "null", "description": _NEUTRAL},
        "web_search_options": {"type": "null", "description": _NEUTRAL},
        "verbosity": {"type": "null", "description": _NEUTRAL},
        # Bedrock extensions (params.py EXTENSIONS): top-level fields, e.g. the openai SDK's extra_body.
        "guardrailConfig": nullable(obj(
            {"guardrailIdentifier": string(minLength=1), "guardrailVersion": string(minLength=1),
             "trace": {"enum": ["enabled", "disabled", "enabled_full"]},
             "streamProcessingMode": {"enum": ["sync", "async"], "description": "Streams only."}},
            ["guardrailIdentifier", "guardrailVersion"], closed=False,
            description="Bedrock extension: Converse `guardrailConfig`.")),
        "additionalModelRequestFields": nullable({"type": "object", "description": "Bedrock extension: merged "
                                                  "into Converse `additionalModelRequestFields`."}),
        "additionalModelResponseFieldPaths": nullable({"type": "array", "items": string(),
                                                       "description": "Bedrock extension, passed through."}),
        "performanceConfig": nullable({"type": "object", "description": "Bedrock extension, passed through."}),
        "requestMetadata": nullable({"type": "object", "additionalProperties": string(),
                                     "description": "Bedrock extension, passed through."}),
        "thinking": nullable(obj({"type": {"enum": ["enabled", "disabled"]}, "budget_tokens": integer(minimum=1)},
                                 closed=False, description="Bedrock extension: Claude extended thinking.")),
        "top_k": nullable(integer("Bedrock extension: `additionalModelRequestFields.top_k`.", minimum=0)),
        "prompt_caching": nullable({**ref("PromptCaching"),
                                    "description": "Bedrock extension: cache points after the tools, system "
                                                   "and last user turn (`true`), or the sections named."}),
    },
    ["model", "messages"],
    description="OpenAI's chat-completions body as the gateway accepts it. Unknown fields are a 400 "
                "(`Unrecognized request argument supplied`), as from OpenAI.",
)
CHAT_REQUEST_SCHEMAS["ChatCompletionRequest"] = CHAT_REQUEST

CHAT_EXAMPLES: dict[str, Any] = {
    "basic": {"model": "claude-3-haiku", "messages": [{"role": "system", "content": "Be brief."},
                                                      {"role": "user", "content": "Hello"}]},
    "stream": {"model": "claude-3-5-haiku", "stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": "Tell me a story"}]},
    "tools": {"model": "claude-3-5-sonnet", "tool_choice": "auto",
              "tools": [{"type": "function", "function": {
                  "name": "get_weather", "description": "The weather in a city",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}}],
              "messages": [{"role": "user", "content": "What is the weather in Paris?"}]},
    "json_schema": {"model": "claude-3-haiku", "max_completion_tokens": 200,
                    "response_format": {"type": "json_schema", "json_schema": {
                        "name": "answer", "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
                    "messages": [{"role": "user", "content": "Give me x"}]},
    "reasoning": {"model": "claude-3-7-sonnet", "reasoning_effort": "low",
                  "messages": [{"role": "user", "content": "Think, then answer: 2+2?"}]},
}


# --- chat completions: response ----------------------------------------------------------------------------------
FINISH_REASONS = ["stop", "length", "tool_calls", "content_filter"]

CHAT_RESPONSE_SCHEMAS: dict[str, Schema] = {
    "Usage": obj(
        {"prompt_tokens": integer("Every input token: uncached, cache reads and cache writes.", minimum=0),
         "completion_tokens": integer(minimum=0), "total_tokens": integer(minimum=0),
         "prompt_tokens_details": obj({"cached_tokens": integer("Cache reads.", minimum=0),
                                       "cache_write_tokens": integer(minimum=0)},
                                      ["cached_tokens", "cache_write_tokens"])},
        ["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"],
    ),
    "GatewayMetadata": obj(
        {"team_id": string(), "latency_ms": integer(minimum=0), "cost_usd": {"type": "number", "minimum": 0},
         "provider": string(examples=["aws-bedrock"]),
         "deployment": string("The deployment that served the call (x-gateway-deployment).",
                              examples=["bedrock/anthropic.claude-3-haiku-20240307-v1:0"]),
         "priced": {"type": "boolean", "description": "false when the cost is not fully priced (an alert)."},
         "request_id": string(pattern=r"^req_[0-9a-f]{32}$")},
        ["team_id", "latency_ms", "cost_usd", "provider", "deployment", "priced", "request_id"],
        description="What the gateway adds to a completion (and to a stream's finish and usage chunks).",
    ),
    "ResponseToolCall": obj(
        {"id": string(), "type": {"const": "function"},
         "function": obj({"name": string(), "arguments": string("A JSON object as text.")}, ["name", "arguments"])},
        ["id", "type", "function"],
    ),
    "ResponseThinkingBlock": {"oneOf": [
        obj({"type": {"const": "thinking"}, "thinking": string(), "signature": string()}, ["type", "thinking"]),
        obj({"type": {"const": "redacted_thinking"}, "data": string()}, ["type", "data"]),
    ]},
    "ChatCompletionMessage": obj(
        {"role": {"const": "assistant"}, "content": nullable(string()), "refusal": {"type": "null"},
         "tool_calls": {"type": "array", "minItems": 1, "items": ref("ResponseToolCall")},
         "reasoning_content": string("Claude's reasoning text, never mixed into `content`."),
         "thinking_blocks": {"type": "array", "minItems": 1, "items": ref("ResponseThinkingBlock")}},
        ["role", "content", "refusal"],
    ),
    "ChatCompletion": obj(
        {"id": string(pattern=r"^chatcmpl-[0-9a-f]{32}$"), "object": {"const": "chat.completion"},
         "created": integer(minimum=0), "model": string("The model as the client named it."),
         "system_fingerprint": {"type": "null"},
         "choices": {"type": "array", "minItems": 1, "maxItems": 1, "items": obj(
             {"index": {"const": 0}, "message": ref("ChatCompletionMessage"),
              "finish_reason": {"enum": FINISH_REASONS}, "logprobs": {"type": "null"}},
             ["index", "message", "finish_reason", "logprobs"])},
         "usage": ref("Usage"), "gateway_metadata": ref("GatewayMetadata")},
        ["id", "object", "created", "model", "system_fingerprint", "choices", "usage", "gateway_metadata"],
    ),
    "ChunkToolCall": obj(
        {"index": integer(minimum=0), "id": string(), "type": {"const": "function"},
         "function": obj({"name": string(), "arguments": string()})},
        ["index", "function"],
    ),
    "ChunkThinkingBlock": {"oneOf": [
        obj({"type": {"const": "thinking"}, "thinking": string(), "signature": string(),
             "index": integer(minimum=0)}, ["type", "thinking", "signature", "index"]),
        obj({"type": {"const": "redacted_thinking"}, "data": string(), "index": integer(minimum=0)},
            ["type", "data", "index"]),
    ]},
    "ChatCompletionChunk": obj(
        {"id": string(pattern=r"^chatcmpl-[0-9a-f]{32}$"), "object": {"const": "chat.completion.chunk"},
         "created": integer(minimum=0), "model": string(), "system_fingerprint": {"type": "null"},
         "choices": {"type": "array", "maxItems": 1, "items": obj(
             {"index": {"const": 0},
              "delta": obj({"role": {"const": "assistant"}, "content": string(),
                            "tool_calls": {"type": "array", "items": ref("ChunkToolCall")},
                            "reasoning_content": string(),
                            "thinking_blocks": {"type": "array", "items": ref("ChunkThinkingBlock")}}),
              "finish_reason": nullable({"enum": FINISH_REASONS}), "logprobs": {"type": "null"}},
             ["index", "delta", "finish_reason", "logprobs"]),
             "description": "Empty only in the usage chunk."},
         "usage": nullable({**ref("Usage"), "description": "With `stream_options.include_usage`: null on every "
                                                           "chunk but the last, which has `choices: []`."}),
         "gateway_metadata": ref("GatewayMetadata")},
        ["id", "object", "created", "model", "system_fingerprint", "choices"],
    ),
    "ChatCompletionStreamEvent": obj(
        {"event": {"const": "message"},
         "data": {"type": "string",
                  "description": "A `chat.completion.chunk`, an error envelope (a failure after the first byte), "
                                 "or `[DONE]` last.",
                  "if": {"const": "[DONE]"},
                  "else": {"contentMediaType": "application/json",
                           "contentSchema": {"oneOf": [ref("ChatCompletionChunk"), ref("Error")]}}},
         "id": string(), "retry": integer()},
        ["data"],
        description="One server-sent event (`data: <json>`); `: keep-alive` comments may come between events.",
    ),
}


