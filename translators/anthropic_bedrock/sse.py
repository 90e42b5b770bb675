"""Anthropic server-sent event framing (pure: bytes in, bytes out; nothing about HTTP).

Every Anthropic stream event is ``event: <type>\\ndata: <json>\\n\\n``; the `type` inside the JSON repeats the
event name.
"""

from __future__ import annotations

from typing import Any

import orjson

from translators.anthropic_bedrock.errors import error_body

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def event_bytes(event_type: str, data: bytes) -> bytes:
    """One SSE event; `data` is the event's JSON, already serialised (one line: JSON has no raw newlines)."""
    return b"event: " + event_type.encode() + b"\ndata: " + data + b"\n\n"


def dict_event(event_type: str, data: dict[str, Any]) -> bytes:
    """One SSE event from a translated event dict (the Converse stream translator's output)."""
    return event_bytes(event_type, orjson.dumps(data))


def events_bytes(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    """Several translated events, framed back to back (one write per upstream event)."""
    return b"".join(dict_event(kind, data) for kind, data in events)


def error_event(error_type: str, message: str) -> bytes:
    """The `error` event Anthropic sends when a stream fails after it started (HTTP status already 200)."""
    return event_bytes("error", orjson.dumps(error_body(error_type, message)))
