"""Raw HTTP/1.1 error responses in OpenAI's envelope, written by the protocol before it closes a connection.

The protocol answers these itself (no ASGI app runs): a head too large (431), too slow (408), not HTTP (400),
or a process over its connection or in-flight cap (503). Every one closes the connection.
"""

from __future__ import annotations

import http
from collections.abc import Iterable

import orjson

from proxy.errors import GatewayError


def status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")


def error_response(error: GatewayError, default_headers: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    """The whole response: status line, ``default_headers`` (uvicorn's date), JSON headers, connection: close."""
    body = orjson.dumps(error.body())
    parts = [status_line(error.status)]
    for name, value in default_headers:
        parts += [name, b": ", value, b"\r\n"]
    parts += [b"content-type: application/json\r\n", b"content-length: ", str(len(body)).encode("ascii"), b"\r\n"]
    for header, text in error.headers.items():
        parts += [header.lower().encode("latin-1"), b": ", text.encode("latin-1"), b"\r\n"]
    parts += [b"connection: close\r\n\r\n", body]
    return b"".join(parts)
