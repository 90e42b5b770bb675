"""OpenAI chat completions -> Bedrock Converse and back (pure: no I/O, clock, random, env or logging)."""

from translators.openai_bedrock.errors import StreamIncomplete, TranslationError
from translators.openai_bedrock.request import ConverseRequest, openai_request_to_converse
from translators.openai_bedrock.response import clean_usage, converse_response_to_openai, converse_usage, openai_usage
from translators.openai_bedrock.stream import ConverseStreamTranslator

__all__ = [
    "ConverseRequest",
    "ConverseStreamTranslator",
    "StreamIncomplete",
    "TranslationError",
    "clean_usage",
    "converse_response_to_openai",
    "converse_usage",
    "openai_request_to_converse",
    "openai_usage",
]
