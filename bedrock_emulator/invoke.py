"""InvokeModel and InvokeModelWithResponseStream with Anthropic (Claude) Messages bodies, and CountTokens.

An Anthropic body is read as its Converse equivalent (``converse_view``) so that one model answers both
APIs: the same directives, the same deterministic text, tool calls and thinking, and the same token
counts (a conversation costs the same whether the gateway sends it to Converse or to InvokeModel, and
CountTokens predicts it). The reply is then written back in Anthropic's shapes: the message JSON, or the
``message_start`` … ``message_stop`` events, each wrapped as Bedrock wraps them, a ``chunk`` event whose
payload is ``{"bytes": "<base64 of the event JSON>"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson

from bedrock_emulator.anthropic_validation import cache_breakpoints, validate_messages_body
from bedrock_emulator.asgi import EmulatedError, Header, validation_error
from bedrock_emulator.directives import ANTHROPIC_STOP_REASONS, Directives
from bedrock_emulator.embeddings import embedding_model, prepare_embedding
from bedrock_emulator.events import Event, split_in, words
from bedrock_emulator.operations import Call, JsonResult, StreamResult, directives_in, validate_converse
from bedrock_emulator.reply import Reply, build_reply, usage_for
from bedrock_emulator.validation import RequestInvalid

JSON = b"application/json"
COUNT_TOKENS_CONVERSE_FIELDS = frozenset({"messages", "system", "toolConfig", "additionalModelRequestFields"})


# --- Anthropic body -> its Converse equivalent -----------------------------------------------------------

def converse_view(body: dict) -> dict[str, Any]:
    """The Converse request saying what ``body`` (a valid Anthropic Messages body) says.

    ``cache_control`` on a block becomes a ``cachePoint`` right after it, so the cached prefix ends with
    that block, as Claude caches it.
    """
    view: dict[str, Any] = {
        "messages": [
            {"role": m["role"], "content": _converse_blocks(m["content"])} for m in body["messages"]
        ],
        "inferenceConfig": {"maxTokens": body["max_tokens"]},
    }
    if body.get("stop_sequences"):
        view["inferenceConfig"]["stopSequences"] = body["stop_sequences"]
    system = body.get("system")
    if system:
        view["system"] = _converse_blocks(system)
    if body.get("tools"):
        view["toolConfig"] = {"tools": _converse_tools(body["tools"])}
        choice = (body.get("tool_choice") or {}).get("type")
        if choice == "tool":
            view["toolConfig"]["toolChoice"] = {"tool": {"name": body["tool_choice"]["name"]}}
        elif choice in {"auto", "any"}:
            view["toolConfig"]["toolChoice"] = {choice: {}}
    if body.get("thinking"):
        view["additionalModelRequestFields"] = {"thinking": body["thinking"]}
    return view


def _converse_blocks(content: str | list[dict]) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict] = []
    for block in content:
        blocks.append(_converse_block(block))
        if block.get("cache_control"):
            blocks.append(_cache_point(block["cache_control"]))
    return blocks


def _cache_point(control: dict) -> dict:
    point = {"type": "default"}
    if "ttl" in control:
        point["ttl"] = control["ttl"]
    return {"cachePoint": point}


def _converse_block(block: dict) -> dict:
    kind = block.get("type", "unknown")
    if kind == "text":
        return {"text": block["text"]}
    if kind == "image" and block["source"].get("type") == "base64":
        source = block["source"]
        return {"image": {"format": source["media_type"].split("/")[-1], "source": {"bytes": source["data"]}}}
    if kind == "tool_use":
        return {"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}}
    if kind == "tool_result":
        inner = block.get("content")
        result: dict[str, Any] = {"toolUseId": block["tool_use_id"], "content": _converse_blocks(inner or "")}
        if block.get("is_error"):
            result["status"] = "error"
        return {"toolResult": result}
    if kind == "thinking":
        return {"reasoningContent": {"reasoningText": {"text": block["thinking"], "signature": block["signature"]}}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data", "")}}
    return {kind: {k: v for k, v in block.items() if k not in ("type", "cache_control")}}


def _converse_tools(tools: list[dict]) -> list[dict]:
    converted: list[dict] = []
    for tool in tools:
        if tool.get("type", "custom") == "custom":
            spec: dict[str, Any] = {"name": tool["name"]}
            if tool.get("description"):
                spec["description"] = tool["description"]
            spec["inputSchema"] = {"json": tool["input_schema"]}
            converted.append({"toolSpec": spec})
        else:   # a server tool (bash_…, computer_…): counted, never called by the emulator
            converted.append({"anthropicTool": {k: v for k, v in tool.items() if k != "cache_control"}})
        if tool.get("cache_control"):
            converted.append(_cache_point(tool["cache_control"]))
    return converted


# --- the reply, in Anthropic's shapes --------------------------------------------------------------------

def anthropic_reply(body: dict, view: dict, found: Directives) -> Reply:
    """The emulated model's answer to ``body``; usage is counted over the whole request (tools included)."""
    forbids_tools = (body.get("tool_choice") or {}).get("type") == "none"
    reply = build_reply({k: v for k, v in view.items() if k != "toolConfig"} if forbids_tools else view, found)
    reply.usage = usage_for(view, reply.blocks, found)
    return reply


def message_body(body: dict, model_id: str, found: Directives | None = None) -> dict[str, Any]:
    """The InvokeModel response body: Anthropic's message object."""
    view = converse_view(body)
    found = found if found is not None else directives_in(view, ANTHROPIC_STOP_REASONS)
    reply = anthropic_reply(body, view, found)
    return {
        "id": message_id(body),
        "type": "message",
        "role": "assistant",
        "model": model_id,
        "content": [_anthropic_block(b) for b in reply.blocks],
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": anthropic_usage(reply.usage, _cache_ttl(body)),
    }


def message_id(body: dict) -> str:
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"msg_bdrk_{digest[:24]}"


def tool_use_id(converse_id: str) -> str:
    return "toolu_bdrk_" + converse_id.removeprefix("tooluse_")


def _anthropic_block(block: dict) -> dict[str, Any]:
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": tool_use_id(use["toolUseId"]), "name": use["name"], "input": use["input"]}
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]["reasoningText"]
        return {"type": "thinking", "thinking": reasoning["text"], "signature": reasoning["signature"]}
    return {"type": "text", "text": block["text"]}


def anthropic_usage(usage: dict[str, int], ttl: str = "5m") -> dict[str, Any]:
    """Converse usage -> Anthropic's: cache tokens are outside input_tokens in both."""
    write = usage.get("cacheWriteInputTokens", 0)
    return {
        "input_tokens": usage["inputTokens"],
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": usage.get("cacheReadInputTokens", 0),
        "cache_creation": {
            "ephemeral_5m_input_tokens": 0 if ttl == "1h" else write,
            "ephemeral_1h_input_tokens": write if ttl == "1h" else 0,
        },
        "output_tokens": usage["outputTokens"],
    }


def _cache_ttl(body: dict) -> str:
    points = cache_breakpoints(body)
    return str(points[-1].get("ttl", "5m")) if points else "5m"


def invoke_headers(usage: dict[str, Any], latency_ms: int) -> list[Header]:
    headers = [
        (b"x-amzn-bedrock-invocation-latency", str(latency_ms).encode()),
        (b"x-amzn-bedrock-output-token-count", str(usage["output_tokens"]).encode()),
        (b"x-amzn-bedrock-input-token-count", str(usage["input_tokens"]).encode()),
    ]
    if usage["cache_read_input_tokens"]:
        headers.append((b"x-amzn-bedrock-cache-read-input-token-count", str(usage["cache_read_input_tokens"]).encode()))
    if usage["cache_creation_input_tokens"]:
        headers.append(
            (b"x-amzn-bedrock-cache-write-input-token-count", str(usage["cache_creation_input_tokens"]).encode())
        )
    return headers


# --- the stream ------------------------------------------------------------------------------------------

def anthropic_events(message: dict[str, Any], latency_ms: int, chunk_delay_ms: int = 0) -> list[dict[str, Any]]:
    """The Anthropic streaming events for ``message`` (an InvokeModel body), in Claude's order."""
    usage = message["usage"]
    start = {
        **message, "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {**usage, "output_tokens": min(1, usage["output_tokens"])},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    events.append({
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
        "usage": {"output_tokens": usage["output_tokens"]},
    })
    # Bedrock adds its own metrics to the last event; latency grows with the gaps between events.
    metrics = {
        "inputTokenCount": usage["input_tokens"],
        "outputTokenCount": usage["output_tokens"],
        "invocationLatency": latency_ms + chunk_delay_ms * len(events),
        "firstByteLatency": latency_ms,
    }
    if usage["cache_read_input_tokens"]:
        metrics["cacheReadInputTokenCount"] = usage["cache_read_input_tokens"]
    if usage["cache_creation_input_tokens"]:
        metrics["cacheWriteInputTokenCount"] = usage["cache_creation_input_tokens"]
    events.append({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "tool_use":
        opening: dict[str, Any] = {**block, "input": {}}
        pieces = split_in(orjson.dumps(block["input"]).decode(), 3)
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    elif kind == "thinking":
        opening = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in words(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        opening = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in words(block["text"])]
    return [
        {"type": "content_block_start", "index": index, "content_block": opening},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def chunk(event: dict[str, Any]) -> Event:
    """One Anthropic event as Bedrock sends it: a ``chunk`` whose ``bytes`` are the event JSON (base64 on the wire)."""
    return "chunk", {"bytes": base64.b64encode(orjson.dumps(event)).decode()}


# --- the operations --------------------------------------------------------------------------------------

def _validated(body: Any) -> tuple[dict, Directives]:
    try:
        validate_messages_body(body)
    except RequestInvalid as exc:
        raise validation_error(str(exc)) from None
    return body, directives_in(converse_view(body), ANTHROPIC_STOP_REASONS)


def prepare_invoke(model_id: str, body: Any) -> Call:
    if embedding_model(model_id) is not None:  # Titan / Cohere embedding bodies, not Claude's (embeddings.py)
        return prepare_embedding(model_id, body)
    body, found = _validated(body)

    def respond(latency_ms: int) -> JsonResult:
        message = message_body(body, model_id, found)
        return JsonResult(message, invoke_headers(message["usage"], latency_ms))

    return Call(found, respond)


def prepare_invoke_stream(model_id: str, body: Any) -> Call:
    body, found = _validated(body)

    def respond(latency_ms: int) -> StreamResult:
        events = anthropic_events(message_body(body, model_id, found), latency_ms, found.chunk_delay_ms)
        return StreamResult([chunk(e) for e in events], [(b"x-amzn-bedrock-content-type", JSON)])

    return Call(found, respond)


def decode_invoke_body(value: Any) -> Any:
    """CountTokens' ``input.invokeModel.body``: a blob, so base64 on the wire (boto3), or the JSON text itself."""
    if not isinstance(value, str):
        raise validation_error("input.invokeModel.body must be the InvokeModel request body.")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = value.encode()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise validation_error("input.invokeModel.body is not a valid JSON InvokeModel body.") from None


def prepare_count_tokens(model_id: str, body: Any) -> Call:
    source = body.get("input") if isinstance(body, dict) else None
    if not isinstance(source, dict):
        raise validation_error(
            "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null"
        )
    if len(source) != 1 or next(iter(source)) not in {"invokeModel", "converse"}:
        raise validation_error("input must contain exactly one of invokeModel or converse.")
    if "invokeModel" in source:
        invoke_body, found = _validated(decode_invoke_body((source["invokeModel"] or {}).get("body")))
        view = converse_view(invoke_body)
    else:
        view = source["converse"]
        if not isinstance(view, dict):
            raise validation_error("input.converse must be an object.")
        unknown = sorted(set(view) - COUNT_TOKENS_CONVERSE_FIELDS)
        if unknown:
            raise validation_error(f"Unknown field(s) in input.converse: {', '.join(unknown)}.")
        validate_converse(view)
        found = directives_in(view)
    return Call(found, lambda latency_ms: JsonResult({"inputTokens": input_tokens(view, found)}))


def input_tokens(view: dict, found: Directives) -> int:
    """What the reply to ``view`` reports as input: uncached + cache read + cache write tokens."""
    usage = usage_for(view, [], found)
    return usage["inputTokens"] + usage.get("cacheReadInputTokens", 0) + usage.get("cacheWriteInputTokens", 0)


def describe_count_tokens(body: Any) -> Any:
    """The decoded InvokeModel body inside a CountTokens request, for ``/_emulator/last_request``."""
    source = body.get("input") if isinstance(body, dict) else None
    if not isinstance(source, dict) or not isinstance(source.get("invokeModel"), dict):
        return None
    try:
        return decode_invoke_body(source["invokeModel"].get("body"))
    except EmulatedError:
        return None
