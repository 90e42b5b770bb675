"""``EMULATOR:<name>[=<value>]`` directives found in the last user text; they steer the emulator's reply.

Unknown or malformed directives are a ValidationException: a typo in a test should fail loudly, not
silently produce the default reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Real Bedrock status codes for each exception (from botocore's bedrock-runtime service model).
DEFAULT_STATUS: dict[str, int] = {
    "AccessDeniedException": 403,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelStreamErrorException": 424,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 400,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "UnrecognizedClientException": 403,
    "ValidationException": 400,
}
STOP_REASONS = frozenset({
    "end_turn", "stop_sequence", "max_tokens", "model_context_window_exceeded", "tool_use",
    "guardrail_intervened", "content_filtered", "malformed_model_output", "malformed_tool_use",
})
# The stop_reason values of Anthropic's Messages API (InvokeModel / InvokeModelWithResponseStream).
ANTHROPIC_STOP_REASONS = frozenset({
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
    "model_context_window_exceeded",
})
_DIRECTIVE = re.compile(r"EMULATOR:([a-z_]+)(?:=(\S*))?")
_REPLY = re.compile(r"EMULATOR:reply=([^\n]*)")
_FLAGS = frozenset({"tool", "text_before_tool", "thinking", "cache_write"})


class DirectiveError(ValueError):
    """A directive the emulator does not understand (reported as a ValidationException)."""


@dataclass
class Directives:
    error: tuple[str, int] | None = None
    stream_error_after: tuple[int, str] | None = None
    truncate_after: int | None = None
    delay_ms: int = 0
    chunk_delay_ms: int = 0
    reply: str | None = None
    stop: str | None = None
    words: int | None = None
    usage: tuple[int, int] | None = None
    tool: bool = False
    parallel_tools: int = 0
    text_before_tool: bool = False
    thinking: bool = False        # a thinking/reasoning block first, even if the request did not enable it
    cache_write: bool = False     # report the cached prefix as a cache write instead of a cache read


def strip_directives(text: str) -> str:
    return _DIRECTIVE.sub("", _REPLY.sub("", text)).strip()


def parse_directives(text: str, stop_reasons: frozenset[str] = STOP_REASONS) -> Directives:
    """The directives in ``text``; ``stop_reasons`` are the values ``EMULATOR:stop=`` may take."""
    found = Directives()
    reply = _REPLY.search(text)
    if reply:
        found.reply = reply.group(1).strip()
    for match in _DIRECTIVE.finditer(_REPLY.sub("", text)):
        name, value = match.group(1), match.group(2)
        try:
            _apply(found, name, value, stop_reasons)
        except (ValueError, KeyError, IndexError) as exc:
            raise DirectiveError(f"bad emulator directive EMULATOR:{name}={value}: {exc}") from None
    return found


def _apply(found: Directives, name: str, value: str | None, stop_reasons: frozenset[str]) -> None:
    if name in _FLAGS:
        setattr(found, name, True)
        return
    if value is None:
        raise DirectiveError(f"EMULATOR:{name} needs a value")
    head, _, tail = value.partition(":")
    if name == "error":
        found.error = (head, int(tail) if tail else DEFAULT_STATUS.get(head, 400))
    elif name == "stream_error_after":
        found.stream_error_after = (int(head), tail or "modelStreamErrorException")
    elif name == "stop":
        if value not in stop_reasons:
            raise DirectiveError(f"unknown stop reason {value!r} (one of {', '.join(sorted(stop_reasons))})")
        found.stop = value
    elif name == "usage":
        first, second = value.split(",")
        found.usage = (int(first), int(second))
    elif name in {"truncate_after", "delay_ms", "chunk_delay_ms", "words", "parallel_tools"}:
        number = int(value)
        if number < 0:
            raise DirectiveError("must not be negative")
        setattr(found, name, number)
        if name == "parallel_tools":
            found.tool = True
    else:
        raise DirectiveError(f"unknown directive {name!r}")
