"""The Bedrock pass-through sends the client's bytes unchanged, except betas Bedrock would refuse."""

from __future__ import annotations

import base64

import orjson

from proxy.providers.bedrock.eventstream import encode_message
from proxy.providers.bedrock.passthrough import UsageMeter, prepare
from translators.usage import Usage

BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}]}


def test_bytes_pass_through_untouched_when_nothing_needs_dropping() -> None:
    raw = orjson.dumps({**BODY, "anthropic_beta": ["interleaved-thinking-2025-05-14"]}) + b"  "
    prepared = prepare("invoke", raw, frozenset({"interleaved-thinking-2025-05-14"}))
    assert prepared.payload is raw and prepared.max_tokens == 50 and not prepared.stream


def test_betas_bedrock_refuses_are_dropped() -> None:
    raw = orjson.dumps({**BODY, "anthropic_beta": ["claude-code-20250219", "interleaved-thinking-2025-05-14"]})
    allowed = frozenset({"interleaved-thinking-2025-05-14"})
    sent = orjson.loads(prepare("invoke-with-response-stream", raw, allowed).payload)
    assert sent["anthropic_beta"] == ["interleaved-thinking-2025-05-14"] and sent["messages"] == BODY["messages"]
    only_unknown = orjson.dumps({**BODY, "anthropic_beta": ["claude-code-20250219"]})
    assert "anthropic_beta" not in orjson.loads(prepare("invoke", only_unknown).payload)


def test_usage_is_metered_from_the_relayed_stream() -> None:
    meter = UsageMeter("invoke-with-response-stream")
    events = [{"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 7, "output_tokens": 1}}},
              {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
              {"type": "message_stop"}]
    frames = b"".join(encode_message({":event-type": "chunk", ":message-type": "event"},
                                     orjson.dumps({"bytes": base64.b64encode(orjson.dumps(e)).decode()}))
                      for e in events)
    for i in range(0, len(frames), 7):  # the bytes arrive in arbitrary pieces
        meter.feed(frames[i:i + 7])
    assert meter.complete and meter.usage == Usage(input_tokens=7, output_tokens=9)
