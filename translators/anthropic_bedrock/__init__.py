"""Anthropic Messages API -> Bedrock and back (pure: no I/O, clock, random, env or logging).

Claude models go to InvokeModel natively (invoke.py, invoke_stream.py: the body passes through with what
Bedrock rejects taken out); other models go through Converse (converse*.py).
"""

from translators.anthropic_bedrock.capabilities import AnthropicCapabilities
from translators.anthropic_bedrock.converse import AnthropicConverseRequest, anthropic_request_to_converse
from translators.anthropic_bedrock.converse_response import converse_response_to_anthropic
from translators.anthropic_bedrock.converse_stream import ConverseToAnthropicStream
from translators.anthropic_bedrock.count_tokens import count_tokens_request, count_tokens_response
from translators.anthropic_bedrock.errors import StreamIncomplete, TranslationError, error_body, error_type_for_status
from translators.anthropic_bedrock.invoke import InvokeRequest, anthropic_request_to_invoke
from translators.anthropic_bedrock.invoke_stream import InvokeStreamReader, invoke_usage
from translators.anthropic_bedrock.tokens import estimate_input_tokens

__all__ = [
    "AnthropicCapabilities",
    "AnthropicConverseRequest",
    "ConverseToAnthropicStream",
    "InvokeRequest",
    "InvokeStreamReader",
    "StreamIncomplete",
    "TranslationError",
    "anthropic_request_to_converse",
    "anthropic_request_to_invoke",
    "converse_response_to_anthropic",
    "count_tokens_request",
    "count_tokens_response",
    "error_body",
    "error_type_for_status",
    "estimate_input_tokens",
    "invoke_usage",
]
