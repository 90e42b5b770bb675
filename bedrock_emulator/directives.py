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
_DIRECTIVE = re.compile(r"EMULATOR:([a-z_]+)(?:=(\S*))?")
_REPLY = re.compile(r"EMULATOR:reply=([^\n]*)")
_FLAGS = frozenset({"tool", "text_before_tool"})


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


def strip_directives(text: str) -> str:
    return _DIRECTIVE.sub("", _REPLY.sub("", text)).strip()


def parse_directives(text: str) -> Directives:
    found = Directives()
    reply = _REPLY.search(text)
    if reply:
        found.reply = reply.group(1).strip()
    for match in _DIRECTIVE.finditer(_REPLY.sub("", text)):
        name, value = match.group(1), match.group(2)
        try:
            _apply(found, name, value)
        except (ValueError, KeyError, IndexError) as exc:
            raise DirectiveError(f"bad emulator directive EMULATOR:{name}={value}: {exc}") from None
    return found


def _apply(found: Directives, name: str, value: str | None) -> None:
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
        if value not in STOP_REASONS:
            raise DirectiveError(f"unknown stopReason {value!r}")
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
