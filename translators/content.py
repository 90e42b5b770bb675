"""Message content (string or parts) -> Converse content blocks: text and images.

Empty or whitespace-only text is dropped because Bedrock rejects blank text blocks (PITFALLS #10).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from translators.errors import TranslationError
from translators.mappings import IMAGE_FORMATS, MAX_IMAGE_BYTES

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
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise TranslationError("image data is not valid base64", param=param) from None
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


def content_blocks(
    content: Any, param: str, *, images: bool, image_error: str = "this model does not accept images"
) -> list[dict[str, Any]]:
    """Blocks for string-or-parts content; `images` says whether image parts are allowed here."""
    if content is None:
        return []
    if isinstance(content, str):
        return _text(content, param)
    if not isinstance(content, list):
        raise TranslationError("content must be a string or a list of content parts", param=param)
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        part_param = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks += _text(part.get("text"), f"{part_param}.text")
        elif kind == "refusal":
            blocks += _text(part.get("refusal"), f"{part_param}.refusal")
        elif kind == "image_url":
            if not images:
                raise TranslationError(image_error, param=part_param, code="unsupported_content")
            blocks.append(_image_block(part, part_param))
        else:
            raise TranslationError(
                f"content part type '{kind}' is not supported by this gateway",
                param=f"{part_param}.type",
                code="unsupported_content",
            )
    return blocks


def plain_text(content: Any) -> str:
    """Text of string-or-parts content, images ignored (for flattening into a text block)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""
