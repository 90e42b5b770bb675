"""InvokeModel answers for Claude: usage of a JSON response, and a pass-through reader for the stream.

InvokeModelWithResponseStream sends one `chunk` event per Anthropic stream event; its `bytes` (base64 in the
event stream, decoded by the caller) are the Anthropic event JSON itself. The reader forwards those bytes
unchanged and reads usage from them. Bedrock adds `amazon-bedrock-invocationMetrics` to the last event
(`message_stop`): that key is removed, and that event alone is re-serialised.
"""

from __future__ import annotations

from typing import Any

import orjson

from translators.anthropic_bedrock.errors import StreamIncomplete
from translators.usage import Usage

METRICS_KEY = "amazon-bedrock-invocationMetrics"
_DELTA_PREFIX = b'{"type":"content_block_delta"'  # the bulk of a stream; never carries usage or metrics
_ANTHROPIC_FIELDS = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_input_tokens", "cache_read_tokens"),
    ("cache_creation_input_tokens", "cache_write_tokens"),
)
_METRICS_FIELDS = (
    ("inputTokenCount", "input_tokens"),
    ("outputTokenCount", "output_tokens"),
    ("cacheReadInputTokenCount", "cache_read_tokens"),
    ("cacheWriteInputTokenCount", "cache_write_tokens"),
)


def _count(value: Any) -> int:
    """A token count as a non-negative int; null, strings, floats and negatives read as 0 (see clean_usage)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _read(raw: Any, fields: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """The counts present in a usage object, by Usage field name."""
    if not isinstance(raw, dict):
        return {}
    return {name: _count(raw[key]) for key, name in fields if key in raw}


def invoke_usage(response: Any) -> Usage:
    """Usage of an InvokeModel JSON response (Anthropic's `usage` block); odd values read as 0."""
    usage = response.get("usage") if isinstance(response, dict) else None
    return Usage(**_read(usage, _ANTHROPIC_FIELDS))


class InvokeStreamReader:
    """Fed each chunk's decoded JSON bytes; returns (event type, bytes to send as that SSE event's data)."""

    def __init__(self) -> None:
        self.stop_reason: str | None = None
        self.message_id: str | None = None
        self.saw_message_stop = False
        self.invocation_metrics: dict[str, Any] | None = None  # as Bedrock sent them (latencies too)
        self._counts: dict[str, int] = {}  # from message_start / message_delta
        self._saw_usage = False

    def feed(self, raw: bytes) -> tuple[str, bytes]:
        if raw.startswith(_DELTA_PREFIX):  # fast path: no parse for text / tool-input / thinking deltas
            return "content_block_delta", raw
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise StreamIncomplete("the upstream sent an event that is not JSON", code="stream_invalid") from None
        if not isinstance(event, dict):
            raise StreamIncomplete("the upstream sent an event that is not a JSON object", code="stream_invalid")
        kind = event.get("type")
        kind = kind if isinstance(kind, str) else "unknown"
        self._track(kind, event)
        if METRICS_KEY in event:
            metrics = event.pop(METRICS_KEY)
            self.invocation_metrics = metrics if isinstance(metrics, dict) else None
            return kind, orjson.dumps(event)
        return kind, raw

    def _track(self, kind: str, event: dict[str, Any]) -> None:
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self.message_id = message.get("id") if isinstance(message.get("id"), str) else None
                self._usage(message.get("usage"))
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.stop_reason = delta["stop_reason"]
            self._usage(event.get("usage"))  # cumulative totals: they overwrite, never add
        elif kind == "message_stop":
            self.saw_message_stop = True

    def _usage(self, raw: Any) -> None:
        counts = _read(raw, _ANTHROPIC_FIELDS)
        if counts:
            self._saw_usage = True
            self._counts.update(counts)

    @property
    def metrics_usage(self) -> Usage | None:
        """Usage by Bedrock's invocationMetrics alone (a cross-check of the events' own numbers)."""
        counts = _read(self.invocation_metrics, _METRICS_FIELDS)
        return Usage(**counts) if counts else None

    @property
    def usage(self) -> Usage | None:
        """The events' usage; a count they never gave comes from invocationMetrics; None when neither came."""
        counts = {**_read(self.invocation_metrics, _METRICS_FIELDS), **self._counts}
        if not counts and not self._saw_usage:
            return None
        return Usage(**counts)

    def finish(self) -> None:
        """End of upstream: a stream without message_stop is truncated, never a success (PITFALLS #26)."""
        if not self.saw_message_stop:
            raise StreamIncomplete(
                "the upstream stream ended before the response was complete", code="stream_incomplete"
            )
