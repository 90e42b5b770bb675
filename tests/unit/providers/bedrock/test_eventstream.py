"""Event-stream framing: our decoder/encoder against botocore's EventStreamBuffer on the same bytes."""

from __future__ import annotations

import random
import struct
import uuid
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer

from proxy.providers.bedrock.eventstream import EventStreamDecoder, EventStreamError, Message, encode_message

EVENT_HEADERS = {
    ":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"
}


def _frames() -> list[bytes]:
    return [
        encode_message({":event-type": "messageStart", ":content-type": "application/json",
                        ":message-type": "event"}, b'{"role":"assistant"}'),
        encode_message(EVENT_HEADERS, b'{"contentBlockIndex":0,"delta":{"text":"H\xc3\xa9"},"p":"abc"}'),
        encode_message({":message-type": "event", ":event-type": "empty"}, b""),
        encode_message({}, b"no headers at all"),
        encode_message(
            {"flag": True, "off": False, "n": -7, "blob": b"\x00\x01", "id": uuid.UUID(int=5)}, b"x"
        ),
    ]


def _botocore_decode(data: bytes) -> list[Message]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [Message(dict(m.headers), bytes(m.payload)) for m in buffer]


def test_encoded_frames_decode_identically_with_botocore() -> None:
    stream = b"".join(_frames())
    ours = EventStreamDecoder().feed(stream)
    assert ours == _botocore_decode(stream)
    assert ours[1].payload.endswith(b'"p":"abc"}')
    expected = {"flag": True, "off": False, "n": -7, "blob": b"\x00\x01", "id": uuid.UUID(int=5).bytes}
    assert ours[4].headers == expected


def test_one_byte_at_a_time() -> None:
    stream = b"".join(_frames())
    decoder = EventStreamDecoder()
    out: list[Message] = []
    for i in range(len(stream)):
        out.extend(decoder.feed(stream[i : i + 1]))
    assert out == _botocore_decode(stream)
    assert decoder.pending == 0


def test_random_splits() -> None:
    stream = b"".join(_frames() * 20)
    expected = _botocore_decode(stream)
    rng = random.Random(7)
    for _ in range(30):
        decoder, out, pos = EventStreamDecoder(), [], 0
        while pos < len(stream):
            step = rng.randint(1, 200)
            out.extend(decoder.feed(stream[pos : pos + step]))
            pos += step
        assert out == expected


def test_partial_frame_is_pending() -> None:
    frame = _frames()[1]
    decoder = EventStreamDecoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.pending == len(frame) - 1


def _long_header_frame(kind: int, value: bytes) -> bytes:
    headers = b"\x01t" + bytes([kind]) + value
    prelude = struct.pack(">II", 16 + len(headers), len(headers))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize(("kind", "value"), [
    (2, struct.pack(">b", -3)), (3, struct.pack(">h", 300)), (5, struct.pack(">q", 2**40)),
    (8, struct.pack(">q", 1_700_000_000_000)), (6, struct.pack(">H", 3) + b"abc"),
])
def test_every_header_type_matches_botocore(kind: int, value: bytes) -> None:
    frame = _long_header_frame(kind, value)
    assert EventStreamDecoder().feed(frame) == _botocore_decode(frame)


@pytest.mark.parametrize("position", ["prelude", "headers", "payload", "message_crc"])
def test_crc_corruption_is_detected(position: str) -> None:
    frame = bytearray(encode_message(EVENT_HEADERS, b'{"x":1}'))
    index = {"prelude": 2, "headers": 14, "payload": len(frame) - 6, "message_crc": len(frame) - 1}[position]
    frame[index] ^= 0x01
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(bytes(frame))


def test_impossible_lengths_rejected() -> None:
    prelude = struct.pack(">II", 8, 0)
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))
    prelude = struct.pack(">II", 200_000, 150_000)
    with pytest.raises(EventStreamError, match="headers length"):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_unknown_header_type_rejected() -> None:
    with pytest.raises(EventStreamError, match="unknown"):
        EventStreamDecoder().feed(_long_header_frame(42, b""))
