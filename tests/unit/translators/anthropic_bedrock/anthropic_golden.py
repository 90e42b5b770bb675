"""Golden case folders under tests/golden_anthropic/: discovery, loading, running and (re)writing.

A case folder holds request.json (an Anthropic Messages body; headers.json beside it when it was captured
from a real client) and case.json (options: beta_header, allowed_betas, invoke / converse: capabilities, or
false to skip that path). Expected files: invoke_request.json or invoke_error.json, converse_request.json or
converse_error.json; converse_response.json -> anthropic_response.json; converse_stream.jsonl ->
anthropic_events.jsonl; invoke_stream.jsonl (one raw chunk JSON per line, byte for byte) ->
invoke_stream_result.json. notes.md says what the case is for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from translators.anthropic_bedrock import (
    AnthropicCapabilities,
    AnthropicConverseRequest,
    ConverseToAnthropicStream,
    InvokeRequest,
    InvokeStreamReader,
    StreamIncomplete,
    TranslationError,
    anthropic_request_to_converse,
    anthropic_request_to_invoke,
)
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.usage import Usage

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden_anthropic"
MODEL = "claude-test"
MESSAGE_ID = "msg_golden0001"
# What a gateway operator might allow for Claude on Bedrock; a case.json can replace it.
ALLOWED_BETAS = frozenset(
    {
        "interleaved-thinking-2025-05-14",
        "context-management-2025-06-27",
        "computer-use-2025-01-24",
        "token-efficient-tools-2025-02-19",
        "output-128k-2025-02-19",
        "context-1m-2025-08-07",
    }
)


def cases(required: str = "request.json") -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "request.json").exists() and (p / required).exists())


def path(case: str, name: str) -> Path:
    return GOLDEN / case / name


def load(case: str, name: str) -> Any:
    text = path(case, name).read_text()
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def raw_lines(case: str, name: str) -> list[bytes]:
    """A .jsonl file's lines as the exact bytes an upstream sent (no re-serialisation)."""
    return [line for line in path(case, name).read_bytes().splitlines() if line.strip()]


def write(case: str, name: str, value: Any) -> None:
    if name.endswith(".jsonl"):
        path(case, name).write_text("".join(json.dumps(v, ensure_ascii=False) + "\n" for v in value))
    else:
        path(case, name).write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def options(case: str) -> dict[str, Any]:
    return load(case, "case.json") if path(case, "case.json").exists() else {}


def beta_header(case: str) -> str | None:
    opts = options(case)
    if "beta_header" in opts:
        return str(opts["beta_header"]) if opts["beta_header"] is not None else None
    if path(case, "headers.json").exists():
        headers = {k.lower(): v for k, v in load(case, "headers.json")["headers"].items()}
        return headers.get("anthropic-beta")
    return None


def wants(case: str, upstream: str) -> bool:
    return options(case).get(upstream, {}) is not False


def invoke(case: str) -> InvokeRequest:
    opts = options(case)
    sub = opts.get("invoke") or {}
    allowed = frozenset(opts["allowed_betas"]) if "allowed_betas" in opts else ALLOWED_BETAS
    return anthropic_request_to_invoke(
        load(case, "request.json"),
        beta_header=beta_header(case),
        allowed_betas=allowed,
        capabilities=AnthropicCapabilities(**sub.get("capabilities", {})),
        keep_billing_header=sub.get("keep_billing_header", True),
    )


def converse(case: str) -> AnthropicConverseRequest:
    sub = options(case).get("converse") or {}
    return anthropic_request_to_converse(
        load(case, "request.json"), capabilities=ModelCapabilities(**sub.get("capabilities", {}))
    )


def usage_json(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }


def invoke_json(req: InvokeRequest) -> dict[str, Any]:
    return {
        "body": req.body,
        "model": req.model,
        "stream": req.stream,
        "max_tokens": req.max_tokens,
        "betas": list(req.betas),
        "dropped_betas": list(req.dropped_betas),
        "stripped": list(req.stripped),
        "user_id": req.user_id,
        "attribution": dict(req.attribution),
        "input_estimate": req.input_estimate,
    }


def converse_json(req: AnthropicConverseRequest) -> dict[str, Any]:
    return {
        "body": req.body,
        "model": req.model,
        "stream": req.stream,
        "max_tokens": req.max_tokens,
        "tool_names": dict(req.tool_names),
        "stop_sequences": list(req.stop_sequences),
        "stripped": list(req.stripped),
        "user_id": req.user_id,
        "attribution": dict(req.attribution),
        "input_estimate": req.input_estimate,
    }


def error_json(err: TranslationError) -> dict[str, Any]:
    return {"error": type(err).__name__, "message": err.message, "param": err.param, "code": err.code}


def converse_events(case: str) -> list[dict[str, Any]]:
    """anthropic events as {"event", "data"} records, fed one Converse event at a time; an error record last."""
    stream = ConverseToAnthropicStream(converse(case), model=MODEL, message_id=MESSAGE_ID)
    out: list[dict[str, Any]] = []
    for event in load(case, "converse_stream.jsonl"):
        out += [{"event": kind, "data": data} for kind, data in stream.feed(event)]
    try:
        out += [{"event": kind, "data": data} for kind, data in stream.finish()]
    except StreamIncomplete as err:
        out.append(error_json(err))
    out.append({"usage": usage_json(stream.usage), "stop_reason": stream.stop_reason})
    return out


def invoke_stream(case: str) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
    """What the reader makes of each raw chunk, its usage and end state; plus (raw, sent) pairs."""
    reader = InvokeStreamReader()
    pairs: list[tuple[bytes, bytes]] = []
    events = []
    for raw in raw_lines(case, "invoke_stream.jsonl"):
        kind, sent = reader.feed(raw)
        pairs.append((raw, sent))
        events.append({"event": kind, "passthrough": sent is raw, "data": sent.decode()})
    error = None
    try:
        reader.finish()
    except StreamIncomplete as err:
        error = error_json(err)
    result = {
        "events": events,
        "usage": usage_json(reader.usage),
        "metrics_usage": usage_json(reader.metrics_usage),
        "stop_reason": reader.stop_reason,
        "message_id": reader.message_id,
        "saw_message_stop": reader.saw_message_stop,
        "error": error,
    }
    return result, pairs
