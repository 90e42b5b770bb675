"""Message content (string or parts) -> Converse content blocks: text, images, documents, cache points.

Empty or whitespace-only text is dropped because Bedrock rejects blank text blocks (PITFALLS #10).
A part's `cache_control` becomes a cachePoint block right after it (see caching.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from translators.openai_bedrock.caching import append_point, cache_point
from translators.openai_bedrock.documents import decoded_size, document_block
from translators.openai_bedrock.errors import TranslationError
from translators.openai_bedrock.mappings import IMAGE_FORMATS, MAX_IMAGE_BYTES

_FILE_POLICY = "file parts are only accepted in user messages"


@dataclass(frozen=True)
class ContentRules:
    """Which non-text parts a message of this role may carry on this model, and the 400 when not."""

    images: bool = False
    image_error: str = "this model does not accept images"
    documents: bool = False
    document_error: str = _FILE_POLICY


_URL_POLICY = "image URLs are not fetched by this gateway; send a data: URL (data:image/png;base64,...)"


def _image_block(part: dict[str, Any], param: str) -> dict[str, Any]:
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, dict) else ref
    param = f"{param}.image_url"
    if not isinstance(url, str) or not url:
        raise TranslationError("image_url.url must be a non-empty string", param=param)
    if url.startswith(("http://", "https://")):
        raise TranslationError(_URL_POLICY, param=param, code="image_url_not_supported")
    header, sep, data = url.partition(",")
    if not url.startswith("data:") or not sep or not header.endswith(";base64"):
        raise TranslationError("image_url must be a base64 data: URL", param=param)
    mime = header[len("data:") : -len(";base64")].lower()
    if mime not in IMAGE_FORMATS:
        raise TranslationError(
            f"unsupported image type '{mime}'; use image/png, image/jpeg, image/gif or image/webp",
            param=param,
        )
    data = "".join(data.split())
    size = decoded_size(data, param, "image")
    if size > MAX_IMAGE_BYTES:
        raise TranslationError(
            f"image is {size} bytes; Bedrock accepts at most {MAX_IMAGE_BYTES} bytes (3.75 MB) per image",
            param=param,
        )
    # Converse's JSON wire format carries blob bytes as base64 text: pass the client's string through.
    return {"image": {"format": IMAGE_FORMATS[mime], "source": {"bytes": data}}}


def _text(value: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(value, str):
        raise TranslationError("text must be a string", param=param)
    return [{"text": value}] if value.strip() else []


def _part_blocks(part: Any, param: str, rules: ContentRules) -> list[dict[str, Any]]:
    if not isinstance(part, dict):
        raise TranslationError("a content part must be an object", param=param, code="invalid_type")
    kind = part.get("type")
    if kind == "text":
        return _text(part.get("text"), f"{param}.text")
    if kind == "refusal":
        return _text(part.get("refusal"), f"{param}.refusal")
    if kind == "image_url":
        if not rules.images:
            raise TranslationError(rules.image_error, param=param, code="unsupported_content")
        return [_image_block(part, param)]
    if kind == "file":
        if not rules.documents:
            raise TranslationError(rules.document_error, param=param, code="unsupported_content")
        return [document_block(part, param)]
    raise TranslationError(
        f"content part type '{kind}' is not supported by this gateway",
        param=f"{param}.type",
        code="unsupported_content",
    )


def content_blocks(content: Any, param: str, rules: ContentRules) -> list[dict[str, Any]]:
    """Blocks for string-or-parts content; `rules` says which part types are allowed here."""
    if content is None:
        return []
    if isinstance(content, str):
        return _text(content, param)
    if not isinstance(content, list):
        raise TranslationError("content must be a string or a list of content parts", param=param)
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        blocks += _part_blocks(part, f"{param}[{j}]", rules)
        append_point(blocks, cache_point(part, f"{param}[{j}]"))
    return blocks


def plain_text(content: Any) -> str:
    """Text of string-or-parts content, images ignored (for flattening into a text block)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""
