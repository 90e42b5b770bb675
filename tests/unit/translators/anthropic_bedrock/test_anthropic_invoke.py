"""InvokeModel translation rules beyond the golden cases: betas, billing header, thinking, copy-on-write,
usage, the stream reader, SSE framing, errors, the token estimate and purity."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from translators.anthropic_bedrock import (
    AnthropicCapabilities,
    InvokeStreamReader,
    StreamIncomplete,
    TranslationError,
    anthropic_request_to_invoke,
    count_tokens_request,
    count_tokens_response,
    error_body,
    error_type_for_status,
    estimate_input_tokens,
    invoke_usage,
)
from translators.anthropic_bedrock.common import parse_billing_header
from translators.anthropic_bedrock.sse import PING, error_event, event_bytes, events_bytes
from translators.usage import Usage

HI = [{"role": "user", "content": "Hi"}]
BILLING = {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.3.abc; cc_entrypoint=cli;"}


def _invoke(caps: AnthropicCapabilities | None = None, header: str | None = None,
            allowed: frozenset[str] = frozenset(), keep_billing: bool = True, **fields: Any) -> Any:
    body = {"model": "claude", "max_tokens": 2000, "messages": HI, **fields}
    return anthropic_request_to_invoke(body, beta_header=header, allowed_betas=allowed,
                                       capabilities=caps or AnthropicCapabilities(), keep_billing_header=keep_billing)


def test_betas_from_header_and_body_filtered_in_order() -> None:
    allowed = frozenset({"a", "b", "c"})
    req = _invoke(header=" a, x ,b,a,, ", allowed=allowed, anthropic_beta=["c", "y", "b"])
    assert req.betas == ("a", "b", "c")
    assert req.dropped_betas == ("x", "y")
    assert req.body["anthropic_beta"] == ["a", "b", "c"]
    assert "anthropic_beta" not in _invoke(header="x", anthropic_beta=["y"]).body  # unknown only: none sent


def test_model_and_stream_leave_the_body_and_version_is_bedrocks() -> None:
    req = _invoke(stream=True, anthropic_version="2023-06-01")
    assert req.stream is True and req.model == "claude"
    assert "model" not in req.body and "stream" not in req.body
    assert req.body["anthropic_version"] == "bedrock-2023-05-31"


def test_untouched_parts_are_the_clients_objects() -> None:
    """The hot path copies nothing it does not change (Claude Code bodies are ~100 KB)."""
    body = {"model": "c", "max_tokens": 10, "messages": HI * 3, "tools": [{"name": "t", "input_schema": {}}],
            "system": [BILLING, {"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]}
    req = anthropic_request_to_invoke(body, beta_header=None, allowed_betas=frozenset(),
                                      capabilities=AnthropicCapabilities())
    assert req.body["messages"] is body["messages"]
    assert req.body["system"] is body["system"]
    assert req.body["tools"][0] is body["tools"][0]
    assert req.attribution == {"cc_version": "2.1.3.abc", "cc_entrypoint": "cli"}


def test_changed_blocks_are_copies_and_the_input_is_not_mutated() -> None:
    block = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    body = {"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": [block], "id": "m1"}]}
    before = copy.deepcopy(body)
    req = anthropic_request_to_invoke(body, beta_header=None, allowed_betas=frozenset(),
                                      capabilities=AnthropicCapabilities())
    assert req.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "x",
                                                                   "cache_control": {"type": "ephemeral"}}]}]
    assert body == before
    assert set(req.stripped) == {"messages[].id", "cache_control.ttl"}
    kept = anthropic_request_to_invoke(body, beta_header=None, allowed_betas=frozenset(),
                                       capabilities=AnthropicCapabilities(cache_ttl=True))
    assert kept.body["messages"][0]["content"][0] is block


def test_billing_header_can_be_left_out() -> None:
    req = _invoke(keep_billing=False, system=[BILLING, {"type": "text", "text": "rules"}])
    assert req.body["system"] == [{"type": "text", "text": "rules"}]
    assert req.attribution["cc_version"] == "2.1.3.abc"


def test_billing_header_parsing() -> None:
    text = "x-anthropic-billing-header: cc_version=2.1.197.fa0; cc_entrypoint=sdk-cli; junk; =x; k = v ;"
    assert parse_billing_header(text) == {"cc_version": "2.1.197.fa0", "cc_entrypoint": "sdk-cli", "k": "v"}


def test_system_string_is_kept_and_lifted_system_messages_join_it() -> None:
    messages = [{"role": "system", "content": "later rules"}, *HI]
    req = _invoke(system="first", messages=messages)
    assert req.body["system"] == [{"type": "text", "text": "first"}, {"type": "text", "text": "later rules"}]
    assert req.body["messages"] == HI
    with pytest.raises(TranslationError) as err:
        _invoke(messages=[{"role": "system", "content": [{"type": "image"}]}, *HI])
    assert err.value.param == "messages[0].content[0]"


def test_adaptive_thinking_becomes_a_full_budget_where_unsupported() -> None:
    req = _invoke(thinking={"type": "adaptive"})
    assert req.body["thinking"] == {"type": "enabled", "budget_tokens": 1999}
    assert "thinking" not in _invoke(thinking={"type": "adaptive"}, max_tokens=1000).body
    native = _invoke(AnthropicCapabilities(adaptive_thinking=True), thinking={"type": "adaptive"})
    assert native.body["thinking"] == {"type": "adaptive"}


def test_output_config_effort_stripped_format_moved_or_refused() -> None:
    req = _invoke(output_config={"effort": "high"})
    assert "output_config" not in req.body and "output_config.effort" in req.stripped
    caps = AnthropicCapabilities(structured_outputs=True, effort=True)
    fmt = {"type": "json_schema", "schema": {"type": "object"}}
    legacy = _invoke(caps, output_format=fmt, output_config={"effort": "low"})
    assert legacy.body["output_config"] == {"effort": "low", "format": fmt}
    assert "output_format" not in legacy.body
    with pytest.raises(TranslationError) as err:
        _invoke(output_format=fmt)
    assert err.value.param == "output_format"  # what the client sent, not where the gateway moves it
    with pytest.raises(TranslationError) as err:
        _invoke(output_config={"format": fmt})
    assert err.value.param == "output_config.format"


def test_anthropic_defined_client_tools_pass_server_tools_need_the_capability() -> None:
    bash = {"type": "bash_20250124", "name": "bash"}
    assert _invoke(tools=[bash]).body["tools"] == [bash]
    search = {"type": "web_search_20250305", "name": "web_search"}
    assert _invoke(AnthropicCapabilities(server_tools=True), tools=[search]).body["tools"] == [search]
    with pytest.raises(TranslationError) as err:
        _invoke(tools=[bash, {"type": 7}])
    assert (err.value.param, err.value.code) == ("tools[1]", "unsupported_tool")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"messages": ["x"]}, "messages[0].role"),
        ({"stream": "yes"}, "stream"),
        ({"system": 5}, "system"),
        ({"thinking": "on"}, "thinking"),
        ({"tools": {"name": "t"}}, "tools"),
        ({"tools": ["t"]}, "tools[0]"),
        ({"container": "c1"}, "container"),
        ({"output_config": "x"}, "output_config"),
    ],
)
def test_invalid_input_names_the_param(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as err:
        _invoke(**fields)
    assert err.value.param == param


def test_metadata_without_a_string_user_id_is_stripped() -> None:
    req = _invoke(metadata={"user_id": 42})
    assert "metadata" not in req.body and req.user_id is None
    assert "metadata" not in _invoke(AnthropicCapabilities(metadata=False), metadata={"user_id": "u"}).body


def test_invoke_usage_reads_odd_values_as_zero() -> None:
    usage = {"input_tokens": None, "output_tokens": "7", "cache_read_input_tokens": -3,
             "cache_creation_input_tokens": True}
    assert invoke_usage({"usage": usage}) == Usage()
    assert invoke_usage({"usage": {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 100,
                                   "cache_creation_input_tokens": 50}}) == Usage(5, 2, 100, 50)
    assert invoke_usage(None) == Usage() and invoke_usage({"usage": []}) == Usage()


def _feed(reader: InvokeStreamReader, *events: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [reader.feed(json.dumps(e, separators=(",", ":")).encode()) for e in events]


def test_reader_usage_falls_back_to_invocation_metrics() -> None:
    reader = InvokeStreamReader()
    assert reader.usage is None
    _feed(reader, {"type": "message_start", "message": {"id": "m", "usage": None}})
    assert reader.usage is None  # no count seen yet: unknown, not zero
    stop = {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 11,
                                                                          "outputTokenCount": 4}}
    _feed(reader, {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 3}},
          stop)
    assert reader.usage == Usage(input_tokens=11, output_tokens=3)  # the events' output count wins
    assert reader.metrics_usage == Usage(input_tokens=11, output_tokens=4)
    assert reader.stop_reason == "max_tokens" and reader.saw_message_stop
    reader.finish()


def test_reader_rejects_what_is_not_a_json_object() -> None:
    for raw in (b"not json", b"[1]"):
        with pytest.raises(StreamIncomplete) as err:
            InvokeStreamReader().feed(raw)
        assert err.value.code == "stream_invalid"


def test_reader_passes_unknown_and_error_events() -> None:
    reader = InvokeStreamReader()
    raw = b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}'
    assert reader.feed(raw) == ("error", raw)
    assert reader.feed(b'{"no_type":1}')[0] == "unknown"
    with pytest.raises(StreamIncomplete):
        reader.finish()


def test_sse_framing() -> None:
    assert event_bytes("ping", b'{"type":"ping"}') == PING
    assert events_bytes([("message_stop", {"type": "message_stop"})]) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    frame = error_event("overloaded_error", "Bedrock is busy")
    head, data = frame.decode().split("\n")[:2]
    assert head == "event: error"
    assert json.loads(data.removeprefix("data: ")) == error_body("overloaded_error", "Bedrock is busy")
    assert error_body("x", "y") == {"type": "error", "error": {"type": "x", "message": "y"}}


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
     (404, "not_found_error"), (413, "request_too_large"), (422, "invalid_request_error"),
     (429, "rate_limit_error"), (500, "api_error"), (503, "overloaded_error"), (529, "overloaded_error"),
     (599, "api_error")],
)
def test_error_types_by_status(status: int, kind: str) -> None:
    assert error_type_for_status(status) == kind


def test_estimate_input_tokens() -> None:
    text = "x" * 400
    body = {"system": "s" * 40, "messages": [{"role": "user", "content": text}], "tools": []}
    assert estimate_input_tokens(body) == (40 + len("user") + 400) // 4  # roles count, types and ids do not
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 10_000_000}}
    assert estimate_input_tokens({"messages": [{"role": "user", "content": [image]}]}) == 1600 + 1
    assert estimate_input_tokens({"messages": []}) == 1


def test_translators_are_pure() -> None:
    """No I/O, clock, randomness, env or logging, and nothing from the gateway, in translators/anthropic_bedrock."""
    forbidden = re.compile(
        r"^\s*(import|from)\s+(os|logging|time|random|datetime|uuid|socket|asyncio|proxy|bedrock_emulator)\b", re.M
    )
    package = Path(__file__).resolve().parents[4] / "translators" / "anthropic_bedrock"
    files = list(package.rglob("*.py"))
    assert len(files) > 5
    assert [p.name for p in files if forbidden.search(p.read_text())] == []


def test_count_tokens_request_wraps_the_invoke_body() -> None:
    body = {"model": "claude", "messages": HI, "context_management": {"edits": []}}
    request = count_tokens_request(body, beta_header="x", allowed_betas=frozenset(),
                                   capabilities=AnthropicCapabilities())
    sent = json.loads(base64.b64decode(request["input"]["invokeModel"]["body"]))
    assert sent == {"anthropic_version": "bedrock-2023-05-31", "messages": HI, "max_tokens": 1}
    assert count_tokens_response({"inputTokens": 42}) == {"input_tokens": 42}
    assert count_tokens_response({"inputTokens": "42"}) is None and count_tokens_response(None) is None
