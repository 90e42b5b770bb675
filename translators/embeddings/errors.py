"""Errors: the client's request is invalid (TranslationError, a 400), or Bedrock's answer is unreadable.

TranslationError is the one the chat and Anthropic translators raise (message, param, code), so the
proxy has one exception to render as OpenAI's 400 envelope.
"""

from __future__ import annotations

from translators.openai_bedrock.errors import TranslationError

__all__ = ["TranslationError", "UnreadableEmbeddings"]


class UnreadableEmbeddings(ValueError):
    """A Bedrock embedding response without the vectors it should hold: an upstream fault (502), not a 400."""
