"""Errors for requests that cannot be expressed in Converse, and for upstream streams that end early.

The proxy renders a TranslationError as OpenAI's 400 envelope using ``message``, ``param`` and ``code``.
"""

from __future__ import annotations


class TranslationError(Exception):
    """This request cannot be expressed in Bedrock Converse (or is invalid chat-completions input)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, param={self.param!r}, code={self.code!r})"


class StreamIncomplete(TranslationError):
    """The Bedrock stream ended without a messageStop event: the response is truncated (PITFALLS #26)."""
