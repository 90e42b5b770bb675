"""OpenAI chat-completions <-> Bedrock Converse translation (pure: no I/O, clock, random, env or logging)."""

from translators.errors import StreamIncomplete, TranslationError
from translators.request import ConverseRequest, openai_request_to_converse
from translators.response import clean_usage, converse_response_to_openai, openai_usage
from translators.stream import ConverseStreamTranslator

__all__ = [
    "ConverseRequest",
    "ConverseStreamTranslator",
    "StreamIncomplete",
    "TranslationError",
    "clean_usage",
    "converse_response_to_openai",
    "openai_request_to_converse",
    "openai_usage",
]
