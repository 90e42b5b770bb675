"""AWS event-stream framing (``application/vnd.amazon.eventstream``): incremental decoder and encoder.

Frame layout (big-endian): total length u32, headers length u32, prelude CRC32 (of the first 8 bytes),
headers, payload, message CRC32 (of everything before it). Each header is: name length u8, name,
value type u8, value. The decoder is hand-written because it sits on the streaming hot path: it is ~3x
cheaper per event than botocore's ``EventStreamBuffer`` and the unit tests hold it to botocore's output.
The encoder is used by the Bedrock emulator; its output is checked by decoding it with botocore.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any
from zlib import crc32

_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_PRELUDE_LEN = 12
_CRC_LEN = 4
_MIN_MESSAGE_LEN = _PRELUDE_LEN + _CRC_LEN
# The same ceilings botocore enforces; a larger frame means a corrupt (or hostile) stream.
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
_HEADER_CACHE_SIZE = 64

_INT_TYPES = {2: struct.Struct(">b"), 3: struct.Struct(">h"), 4: struct.Struct(">i"), 5: struct.Struct(">q")}
_U16 = struct.Struct(">H")
_TYPE_BOOL_TRUE, _TYPE_BOOL_FALSE, _TYPE_BYTES, _TYPE_STRING, _TYPE_TIMESTAMP, _TYPE_UUID = 0, 1, 6, 7, 8, 9
_TYPE_INT32 = 4


class EventStreamError(ValueError):
    """The byte stream is not valid event-stream framing (bad CRC, bad lengths, unknown header type)."""


@dataclass(slots=True)
class Message:
    """One decoded frame: headers in botocore's value types, raw payload bytes."""

    headers: dict[str, Any]
    payload: bytes


class EventStreamDecoder:
    """Feed bytes as they arrive (any split, even one byte at a time); get complete messages back.

    Incoming chunks are only joined once a whole frame is available, so small reads of a large frame
    cost linear time; header blocks (identical on every event of a type) are parsed once and cached.
    """

    __slots__ = ("_chunks", "_header_cache", "_need", "_pending")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pending = 0
        self._need = _PRELUDE_LEN
        self._header_cache: dict[bytes, dict[str, Any]] = {}

    @property
    def pending(self) -> int:
        """Bytes held that do not yet form a complete message (non-zero at EOF means truncation)."""
        return self._pending

    def feed(self, data: bytes) -> list[Message]:
        if not data:
            return []
        self._chunks.append(bytes(data))
        self._pending += len(data)
        if self._pending < self._need:
            return []
        buf = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        messages: list[Message] = []
        start = self._parse(buf, messages)
        rest = buf[start:]
        self._chunks = [rest] if rest else []
        self._pending = len(rest)
        return messages

    def _parse(self, buf: bytes, messages: list[Message]) -> int:
        view = memoryview(buf)
        start, end = 0, len(buf)
        self._need = _PRELUDE_LEN
        while end - start >= _PRELUDE_LEN:
            total, headers_len, prelude_crc = _PRELUDE.unpack_from(buf, start)
            if crc32(view[start : start + 8]) != prelude_crc:
                raise EventStreamError("event-stream prelude CRC mismatch")
            _check_lengths(total, headers_len)
            if end - start < total:
                self._need = total
                break
            body_end = start + total - _CRC_LEN
            if crc32(view[start + 8 : body_end], prelude_crc) != _U32.unpack_from(buf, body_end)[0]:
                raise EventStreamError("event-stream message CRC mismatch")
            headers_end = start + _PRELUDE_LEN + headers_len
            headers = self._headers(buf[start + _PRELUDE_LEN : headers_end])
            messages.append(Message(headers, buf[headers_end:body_end]))
            start = body_end + _CRC_LEN
        return start

    def _headers(self, raw: bytes) -> dict[str, Any]:
        cached = self._header_cache.get(raw)
        if cached is None:
            cached = _decode_headers(raw)
            if len(self._header_cache) < _HEADER_CACHE_SIZE:
                self._header_cache[raw] = cached
        return dict(cached)


def _check_lengths(total: int, headers_len: int) -> None:
    if headers_len > MAX_HEADERS_LENGTH:
        raise EventStreamError(f"event-stream headers length {headers_len} exceeds {MAX_HEADERS_LENGTH}")
    payload_len = total - headers_len - _MIN_MESSAGE_LEN
    if payload_len < 0:
        raise EventStreamError(f"event-stream frame length {total} is shorter than its headers")
    if payload_len > MAX_PAYLOAD_LENGTH:
        raise EventStreamError(f"event-stream payload length {payload_len} exceeds {MAX_PAYLOAD_LENGTH}")


def _decode_headers(data: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    pos = 0
    end = len(data)
    try:
        while pos < end:
            name_len = data[pos]
            name = data[pos + 1 : pos + 1 + name_len].decode("utf-8")
            pos += 1 + name_len
            value, pos = _decode_value(data, pos)
            if name in headers:
                raise EventStreamError(f"duplicate event-stream header {name!r}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"malformed event-stream headers: {exc}") from None
    return headers


def _decode_value(data: bytes, pos: int) -> tuple[Any, int]:
    kind = data[pos]
    pos += 1
    if kind in (_TYPE_STRING, _TYPE_BYTES):
        (length,) = _U16.unpack_from(data, pos)
        raw = data[pos + 2 : pos + 2 + length]
        if len(raw) != length:
            raise EventStreamError("event-stream header value runs past the headers")
        return (raw.decode("utf-8") if kind == _TYPE_STRING else raw), pos + 2 + length
    if kind == _TYPE_BOOL_TRUE:
        return True, pos
    if kind == _TYPE_BOOL_FALSE:
        return False, pos
    if kind == _TYPE_TIMESTAMP:
        kind = 5  # botocore returns timestamps as int64 milliseconds, like a long
    if kind in _INT_TYPES:
        codec = _INT_TYPES[kind]
        return codec.unpack_from(data, pos)[0], pos + codec.size
    if kind == _TYPE_UUID:
        raw = data[pos : pos + 16]
        if len(raw) != 16:
            raise EventStreamError("event-stream uuid header is truncated")
        return raw, pos + 16
    raise EventStreamError(f"unknown event-stream header type {kind}")


def encode_message(headers: dict[str, Any], payload: bytes) -> bytes:
    """Frame ``payload`` with ``headers`` (str -> string, bytes -> byte array, bool, int -> int32)."""
    encoded_headers = b"".join(_encode_header(name, value) for name, value in headers.items())
    total = _MIN_MESSAGE_LEN + len(encoded_headers) + len(payload)
    prelude = _U32.pack(total) + _U32.pack(len(encoded_headers))
    prelude += _U32.pack(crc32(prelude))
    body = prelude + encoded_headers + payload
    return body + _U32.pack(crc32(body))


def _encode_header(name: str, value: Any) -> bytes:
    raw_name = name.encode("utf-8")
    head = bytes([len(raw_name)]) + raw_name
    if isinstance(value, bool):
        return head + bytes([_TYPE_BOOL_TRUE if value else _TYPE_BOOL_FALSE])
    if isinstance(value, int):
        return head + bytes([_TYPE_INT32]) + _INT_TYPES[_TYPE_INT32].pack(value)
    if isinstance(value, uuid.UUID):
        return head + bytes([_TYPE_UUID]) + value.bytes
    if isinstance(value, str):
        raw, kind = value.encode("utf-8"), _TYPE_STRING
    else:
        raw, kind = bytes(value), _TYPE_BYTES
    return head + bytes([kind]) + _U16.pack(len(raw)) + raw
