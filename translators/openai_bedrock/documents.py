"""OpenAI `file` content parts -> Converse document blocks, and the request-wide document rules.

Bedrock's rules (Converse API reference, Message and DocumentBlock): at most 4.5 MB per document, at most
5 documents per request, names unique within the request and made only of alphanumerics, single
whitespace, hyphens, parentheses and square brackets, and a text block beside any document in its turn.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from translators.openai_bedrock.errors import TranslationError

# data-URL mime type -> Converse DocumentFormat.
DOCUMENT_FORMATS: dict[str, str] = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
}
_EXTENSION_FORMATS = {fmt: fmt for fmt in DOCUMENT_FORMATS.values()} | {"htm": "html", "markdown": "md"}
MAX_DOCUMENT_BYTES = 4_718_592  # 4.5 MiB decoded, Bedrock's per-document limit
MAX_DOCUMENTS = 5  # per request
DOCUMENT_TEXT = "(attached document)"  # Bedrock wants a text block in any turn that carries a document
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9\s()\[\]-]")
_SUPPORTED = "pdf, csv, doc, docx, xls, xlsx, html, txt or md"


def decoded_size(data: str, param: str, what: str) -> int:
    """Bytes in base64 `data`; a 400 naming `param` unless it decodes to at least one (Bedrock's blob minimum)."""
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise TranslationError(f"{what} data is not valid base64", param=param) from None
    if size == 0:
        raise TranslationError(f"{what} data is empty", param=param)
    return size


def document_name(filename: str | None) -> str:
    """A Bedrock-safe document name from the client's filename (extension dropped)."""
    stem, dot, ext = (filename or "").rpartition(".")
    name = stem if dot and stem and ext.isalnum() and len(ext) <= 8 else filename or ""
    name = " ".join(_NAME_UNSAFE.sub("-", name).split())  # no runs of whitespace
    return name if any(c.isalnum() for c in name) else "document"


def _format(file_data: str, filename: str | None, param: str) -> tuple[str, str]:
    """(Converse format, base64 text) from a data: URL, or raw base64 named by the filename's extension."""
    by_extension = _EXTENSION_FORMATS.get((filename or "").rpartition(".")[2].lower())
    if not file_data.startswith("data:"):
        if by_extension is None:
            raise TranslationError(
                "file_data must be a base64 data: URL (data:application/pdf;base64,...)", param=param
            )
        return by_extension, "".join(file_data.split())
    header, sep, data = file_data.partition(",")
    if not sep or not header.endswith(";base64"):
        raise TranslationError("file_data must be a base64 data: URL", param=param)
    mime = header[len("data:") :].split(";")[0].strip().lower()
    fmt = DOCUMENT_FORMATS.get(mime) or by_extension
    if fmt is None:
        raise TranslationError(f"unsupported document type '{mime}'; use {_SUPPORTED}", param=param)
    return fmt, "".join(data.split())


def document_block(part: dict[str, Any], param: str) -> dict[str, Any]:
    """{"type": "file", "file": {"file_data": "data:...;base64,...", "filename": ...}} -> a document block."""
    ref = part.get("file")
    param = f"{param}.file"
    if not isinstance(ref, dict):
        raise TranslationError("file must be an object with file_data and filename", param=param)
    if ref.get("file_id") is not None:
        raise TranslationError(
            "file_id is not supported: this gateway has no Files API; send the file inline as file_data",
            param=f"{param}.file_id",
            code="file_id_not_supported",
        )
    file_data, filename = ref.get("file_data"), ref.get("filename")
    if filename is not None and not isinstance(filename, str):
        raise TranslationError("file.filename must be a string", param=f"{param}.filename")
    if not isinstance(file_data, str) or not file_data:
        raise TranslationError("file.file_data must be a non-empty base64 data: URL", param=f"{param}.file_data")
    fmt, data = _format(file_data, filename, f"{param}.file_data")
    size = decoded_size(data, f"{param}.file_data", "document")
    if size > MAX_DOCUMENT_BYTES:
        raise TranslationError(
            f"document is {size} bytes; Bedrock accepts at most {MAX_DOCUMENT_BYTES} bytes (4.5 MB) per document",
            param=f"{param}.file_data",
        )
    # As for images, the JSON wire format carries the bytes as base64 text: the client's string is passed on.
    return {"document": {"format": fmt, "name": document_name(filename), "source": {"bytes": data}}}


def _unique(name: str, seen: set[str]) -> str:
    candidate, n = name, 1
    while candidate.lower() in seen:
        n += 1
        candidate = f"{name} ({n})"
    seen.add(candidate.lower())
    return candidate


def finish_documents(messages: list[dict[str, Any]]) -> None:
    """Request-wide rules on the merged turns: unique names, at most 5 documents, a text block beside them."""
    seen: set[str] = set()
    count = 0
    for turn in messages:
        documents = [block["document"] for block in turn["content"] if "document" in block]
        for document in documents:
            document["name"] = _unique(document["name"], seen)
        count += len(documents)
        if documents and not any("text" in block for block in turn["content"]):
            turn["content"].append({"text": DOCUMENT_TEXT})
    if count > MAX_DOCUMENTS:
        raise TranslationError(
            f"Bedrock accepts at most {MAX_DOCUMENTS} documents per request; this request has {count}",
            param="messages",
            code="too_many_documents",
        )
