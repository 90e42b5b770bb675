"""Server-sent events exactly as OpenAI frames them.

``data: {json}\n\n`` per chunk, ``data: [DONE]\n\n`` last, ``data: {"error": {...}}`` for a failure after
the first byte (the openai SDK raises APIError on any event whose data has an "error" key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


def encode_chunk(chunk: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def encode_error(body: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(body) + b"\n\n"
