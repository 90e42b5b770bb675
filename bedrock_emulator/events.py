"""Reply -> ConverseStream events (as Bedrock orders and shapes them) and their binary framing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from bedrock_emulator.reply import Reply
from proxy.providers.bedrock.eventstream import encode_message

_WORD = re.compile(r"\S+\s*|\s+")
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
Event = tuple[str, dict[str, Any]]


def converse_body(reply: Reply, latency_ms: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": reply.blocks}},
        "stopReason": reply.stop_reason,
        "usage": reply.usage,
        "metrics": {"latencyMs": latency_ms},
    }


def stream_events(reply: Reply, latency_ms: int) -> list[Event]:
    events: list[Event] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(reply.blocks):
        events.extend(_block_events(index, block))
    events.append(("messageStop", {"stopReason": reply.stop_reason}))
    events.append(("metadata", {"usage": reply.usage, "metrics": {"latencyMs": latency_ms}}))
    return events


def _block_events(index: int, block: dict[str, Any]) -> Iterator[Event]:
    # Like Bedrock: only tool-use blocks get a contentBlockStart; every block ends with a stop.
    if "toolUse" in block:
        use = block["toolUse"]
        start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
        yield "contentBlockStart", {"contentBlockIndex": index, "start": start}
        for piece in split_in(orjson.dumps(use["input"]).decode(), 3):
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}
    elif "reasoningContent" in block:
        reasoning = block["reasoningContent"]["reasoningText"]
        for piece in words(reasoning["text"]):
            delta = {"reasoningContent": {"text": piece}}
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}
        signature = {"reasoningContent": {"signature": reasoning["signature"]}}
        yield "contentBlockDelta", {"contentBlockIndex": index, "delta": signature}
    else:
        for piece in words(block["text"]) or [""]:
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}
    yield "contentBlockStop", {"contentBlockIndex": index}


def words(text: str) -> list[str]:
    """``text`` as the word-sized pieces streams send (each word with its trailing whitespace)."""
    return _WORD.findall(text)


def split_in(text: str, parts: int) -> list[str]:
    """``text`` in up to ``parts`` non-empty consecutive pieces."""
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def frame_event(event_type: str, payload: dict[str, Any], sequence: int) -> bytes:
    # Bedrock pads every payload with a random-length "p" field to hide token lengths; clients drop it.
    padded = {**payload, "p": _PADDING[: 4 + sequence % 20]}
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, orjson.dumps(padded))


def frame_exception(name: str, message: str) -> bytes:
    # In-stream exceptions carry the union member name: throttlingException, not ThrottlingException.
    member = name[:1].lower() + name[1:]
    headers = {":exception-type": member, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, orjson.dumps({"message": message}))
