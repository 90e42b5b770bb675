"""``EMULATOR:`` directives in OpenAI requests: the Bedrock emulator's syntax and parser, OpenAI's values.

So tests read the same against both emulators, the parser is Bedrock's; what differs is that ``error=``
takes an HTTP status (a Bedrock exception name still works: its status is used), ``stop=`` takes OpenAI
finish reasons, ``retry_after=`` exists, and ``stream_error_after=N`` drops the connection (``N:event``
sends an in-band ``data: {"error": ...}`` instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from bedrock_emulator.directives import DirectiveError, Directives, parse_directives

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})
_RETRY_AFTER = re.compile(r"EMULATOR:retry_after=(\S*)")
_DEFAULT_STREAM_ERROR = "modelStreamErrorException"   # what Bedrock's parser fills in when no name is given
_BEDROCK_ONLY = ("thinking", "cache_write")


@dataclass
class OpenAIDirectives(Directives):
    retry_after: int | None = None     # seconds for Retry-After on an error= reply (429 defaults to 1)
    stream_error_event: bool = False   # stream_error_after=N:event: an in-band error object, not a drop

    @property
    def error_status(self) -> int | None:
        return self.error[1] if self.error else None


def parse_openai_directives(text: str) -> OpenAIDirectives:
    """The directives in ``text``; raises DirectiveError (a 400 for the caller) for anything unknown."""
    retry_after = None
    match = _RETRY_AFTER.search(text)
    if match:
        retry_after = _non_negative("retry_after", match.group(1))
    base = parse_directives(_RETRY_AFTER.sub("", text), FINISH_REASONS)
    for name in _BEDROCK_ONLY:
        if getattr(base, name):
            raise DirectiveError(f"EMULATOR:{name} is a Bedrock emulator directive; OpenAI models have no such block")
    found = OpenAIDirectives(**{f.name: getattr(base, f.name) for f in fields(Directives)}, retry_after=retry_after)
    if found.error is not None:
        found.error = _error_status(*found.error)
    if found.stream_error_after is not None:
        count, name = found.stream_error_after
        if name not in {_DEFAULT_STREAM_ERROR, "event"}:
            raise DirectiveError(f"EMULATOR:stream_error_after={count}:{name}: the only variant is ':event'")
        found.stream_error_event = name == "event"
    return found


def _error_status(name: str, bedrock_status: int) -> tuple[str, int]:
    if not name.isdigit():
        return name, bedrock_status
    status = int(name)
    if not 400 <= status <= 599:
        raise DirectiveError(f"EMULATOR:error={name}: an error status is 400-599")
    return name, status


def _non_negative(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise DirectiveError(f"bad emulator directive EMULATOR:{name}={value}: not an integer") from None
    if number < 0:
        raise DirectiveError(f"bad emulator directive EMULATOR:{name}={value}: must not be negative")
    return number
