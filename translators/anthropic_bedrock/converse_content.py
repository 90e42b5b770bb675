"""Anthropic content blocks -> Converse content blocks: text, image, document, tool_use, tool_result, thinking.

Images and documents must be inline (`source.type` base64, or text for documents): this gateway fetches no
URLs and has no Files API. A block's `cache_control` becomes a cachePoint right after it (caching.py drops the
points again on models without prompt caching).
"""

from __future__ import annotations

import json
from typing import Any

from translators.anthropic_bedrock.errors import TranslationError
from translators.openai_bedrock.caching import append_point, cache_point, content_point
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.documents import DOCUMENT_FORMATS, MAX_DOCUMENT_BYTES, decoded_size, document_name
from translators.openai_bedrock.mappings import (
    EMPTY_TOOL_RESULT,
    IMAGE_FORMATS,
    MAX_IMAGE_BYTES,
    safe_tool_name,
    safe_tool_use_id,
)
from translators.openai_bedrock.messages import Conversation

_INLINE = "only inline (base64) {what}s are accepted: this gateway fetches no URLs and has no Files API"


def _source(block: dict[str, Any], param: str, what: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise TranslationError(f"{what} source must be an object", param=f"{param}.source")
    if source.get("type") in ("url", "file"):
        raise TranslationError(_INLINE.format(what=what), param=f"{param}.source", code="unsupported_content")
    return source


def _base64(source: dict[str, Any], param: str, what: str, limit: int) -> str:
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise TranslationError(f"{what} source.data must be a non-empty base64 string", param=f"{param}.source.data")
    data = "".join(data.split())
    size = decoded_size(data, f"{param}.source.data", what)
    if size > limit:
        raise TranslationError(f"{what} is {size} bytes; Bedrock accepts at most {limit} bytes", param=param)
    return data  # Converse's JSON wire format carries blob bytes as base64 text: the client's string goes on


def image_block(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = _source(block, param, "image")
    if source.get("type") != "base64":
        raise TranslationError("image source.type must be 'base64'", param=f"{param}.source.type")
    fmt = IMAGE_FORMATS.get(str(source.get("media_type", "")).lower())
    if fmt is None:
        raise TranslationError(
            "image media_type must be image/png, image/jpeg, image/gif or image/webp",
            param=f"{param}.source.media_type",
        )
    return {"image": {"format": fmt, "source": {"bytes": _base64(source, param, "image", MAX_IMAGE_BYTES)}}}


def document_block(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = _source(block, param, "document")
    name = document_name(block.get("title") if isinstance(block.get("title"), str) else None)
    kind = source.get("type")
    if kind == "base64":
        fmt = DOCUMENT_FORMATS.get(str(source.get("media_type", "")).lower())
        if fmt is None:
            raise TranslationError("unsupported document media_type", param=f"{param}.source.media_type")
        data = _base64(source, param, "document", MAX_DOCUMENT_BYTES)
        return {"document": {"format": fmt, "name": name, "source": {"bytes": data}}}
    if kind == "text" and isinstance(source.get("data"), str):
        return {"document": {"format": "txt", "name": name, "source": {"text": source["data"]}}}
    if kind == "content" and isinstance(source.get("content"), list | str):
        text = plain_text(source["content"])
        return {"document": {"format": "txt", "name": name, "source": {"text": text or EMPTY_TOOL_RESULT}}}
    raise TranslationError("document source.type must be base64, text or content", param=f"{param}.source.type")


def plain_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))


def text_block(block: dict[str, Any], param: str) -> list[dict[str, Any]]:
    text = block.get("text")
    if not isinstance(text, str):
        raise TranslationError("text must be a string", param=f"{param}.text")
    return [{"text": text}] if text.strip() else []  # Bedrock rejects blank text


def _result_content(content: Any, param: str, caps: ModelCapabilities) -> list[dict[str, Any]]:
    if isinstance(content, str) or content is None:
        return [{"text": content}] if content and content.strip() else []
    if not isinstance(content, list):
        raise TranslationError("tool_result content must be a string or a list of blocks", param=param)
    out: list[dict[str, Any]] = []
    for j, item in enumerate(content):
        kind = item.get("type") if isinstance(item, dict) else None
        where = f"{param}[{j}]"
        if kind == "text":
            out += text_block(item, where)
        elif kind == "image" and caps.tool_result_images:
            out.append(image_block(item, where))
        elif kind == "document" and caps.documents:
            out.append(document_block(item, where))
        elif kind == "tool_reference":  # tool search is Anthropic's: every tool is loaded up front here
            out.append({"text": f"Tool {item.get('tool_name', '')} is loaded."})
        else:
            raise TranslationError(f"tool_result content type {kind!r} is not supported by this model", param=where,
                                   code="unsupported_content")
    return out


def tool_result(block: dict[str, Any], param: str, conv: Conversation, caps: ModelCapabilities) -> dict[str, Any]:
    use_id = block.get("tool_use_id")
    if not isinstance(use_id, str) or use_id not in conv.tool_call_ids:
        raise TranslationError(
            f"tool_result refers to tool_use_id {use_id!r}, which matches no earlier tool_use block",
            param=f"{param}.tool_use_id",
        )
    if not caps.tools:  # models without tools get the history as text
        text = plain_text(block.get("content")) or EMPTY_TOOL_RESULT
        return {"text": f"[tool result {use_id}]: {text}"}
    content = _result_content(block.get("content"), f"{param}.content", caps)
    content = content or [{"text": EMPTY_TOOL_RESULT}]
    result: dict[str, Any] = {"toolUseId": safe_tool_use_id(use_id), "content": content}
    if block.get("is_error") is True:
        result["status"] = "error"
    return {"toolResult": result}


def tool_use(block: dict[str, Any], param: str, conv: Conversation, caps: ModelCapabilities) -> dict[str, Any]:
    use_id, name, args = block.get("id"), block.get("name"), block.get("input", {})
    if not isinstance(use_id, str) or not use_id or not isinstance(name, str) or not name:
        raise TranslationError("tool_use needs an id and a name", param=param)
    if not isinstance(args, dict):
        raise TranslationError("tool_use input must be an object", param=f"{param}.input")
    conv.tool_call_ids.add(use_id)
    if not caps.tools:
        return {"text": f"[tool call {use_id}: {name}({json.dumps(args, ensure_ascii=False)})]"}
    safe = safe_tool_name(name)
    conv.tool_names[safe] = name
    return {"toolUse": {"toolUseId": safe_tool_use_id(use_id), "name": safe, "input": args}}


def thinking_block(block: dict[str, Any], param: str, caps: ModelCapabilities) -> list[dict[str, Any]]:
    """Signed thinking goes back as reasoningContent; unsigned thinking is dropped (Bedrock rejects it)."""
    if not caps.reasoning:
        return []
    if block.get("type") == "redacted_thinking":
        data = block.get("data")
        if data is None or data == "":
            return []
        if not isinstance(data, str):
            raise TranslationError("redacted_thinking data must be a string", param=f"{param}.data")
        decoded_size(data, f"{param}.data", "redacted thinking")  # Bedrock's redactedContent is a blob: base64
        return [{"reasoningContent": {"redactedContent": data}}]
    text, signature = block.get("thinking"), block.get("signature")
    if not isinstance(text, str) or not text or not isinstance(signature, str) or not signature:
        return []
    return [{"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}}]


_USER_ONLY = frozenset({"image", "document", "tool_result"})
_ASSISTANT_ONLY = frozenset({"tool_use", "thinking", "redacted_thinking"})


def _one(block: dict[str, Any], param: str, role: str, conv: Conversation, caps: ModelCapabilities) -> list[Any]:
    kind = block.get("type")
    if (kind in _USER_ONLY and role != "user") or (kind in _ASSISTANT_ONLY and role != "assistant"):
        raise TranslationError(f"{kind} blocks are not accepted in {role} messages", param=f"{param}.type")
    if kind == "text":
        return text_block(block, param)
    if kind == "image":
        if not caps.vision:
            raise TranslationError("this model does not accept images", param=param, code="unsupported_content")
        return [image_block(block, param)]
    if kind == "document":
        if not caps.documents:
            raise TranslationError("this model does not accept documents", param=param, code="unsupported_content")
        return [document_block(block, param)]
    if kind == "tool_result":
        return [tool_result(block, param, conv, caps)]
    if kind == "tool_use":
        return [tool_use(block, param, conv, caps)]
    if kind in ("thinking", "redacted_thinking"):
        return thinking_block(block, param, caps)
    raise TranslationError(f"content block type {kind!r} is not supported by this model on Bedrock",
                           param=f"{param}.type", code="unsupported_content")


def content_blocks(content: Any, param: str, role: str, conv: Conversation, caps: ModelCapabilities) -> list[Any]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    blocks: list[Any] = []
    for j, block in enumerate(content):
        where = f"{param}[{j}]"
        if not isinstance(block, dict):
            raise TranslationError("a content block must be an object", param=where)
        blocks += _one(block, where, role, conv, caps)
        point = cache_point(block, where)
        if point is None and block.get("type") == "tool_result":  # Converse has no point inside a toolResult
            point = content_point(block.get("content"), f"{where}.content")
        append_point(blocks, point)
    return blocks
