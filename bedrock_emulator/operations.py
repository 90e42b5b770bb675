"""What every emulated operation hands the app: its directives and how to answer once they have run.

The app does the common part (authentication, counting, inspection, ``delay_ms``, ``error=``) and then
sends the result: one JSON reply, or a list of events framed as ``application/vnd.amazon.eventstream``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bedrock_emulator.asgi import Header, validation_error
from bedrock_emulator.directives import STOP_REASONS, DirectiveError, Directives, parse_directives
from bedrock_emulator.events import Event, converse_body, stream_events
from bedrock_emulator.reply import build_reply, last_user_text
from bedrock_emulator.validation import RequestInvalid, validate_request


@dataclass
class JsonResult:
    payload: Any
    headers: list[Header] = field(default_factory=list)


@dataclass
class StreamResult:
    """Events in order: (``:event-type``, payload) pairs, each framed with Bedrock's ``p`` padding."""

    events: list[Event]
    headers: list[Header] = field(default_factory=list)


@dataclass
class Call:
    directives: Directives
    respond: Callable[[int], JsonResult | StreamResult]   # latency_ms -> the answer


Prepare = Callable[[str, Any], Call]   # (modelId, parsed JSON body) -> Call; raises EmulatedError


def directives_in(converse_shaped_body: dict, stop_reasons: frozenset[str] = STOP_REASONS) -> Directives:
    try:
        return parse_directives(last_user_text(converse_shaped_body)[0], stop_reasons)
    except DirectiveError as exc:
        raise validation_error(str(exc)) from None


def validate_converse(body: Any) -> None:
    try:
        validate_request(body)
    except RequestInvalid as exc:
        raise validation_error(str(exc)) from None


def prepare_converse(model_id: str, body: Any) -> Call:
    validate_converse(body)
    found = directives_in(body)
    return Call(found, lambda latency: JsonResult(converse_body(build_reply(body, found), latency)))


def prepare_converse_stream(model_id: str, body: Any) -> Call:
    validate_converse(body)
    found = directives_in(body)
    return Call(found, lambda latency: StreamResult(stream_events(build_reply(body, found), latency)))
