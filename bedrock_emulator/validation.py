"""Request checks Bedrock itself makes, so translator bugs fail here as they would against AWS.

Messages are shortened paraphrases of Bedrock's own ValidationException texts.
"""

from __future__ import annotations

import json
import re
from typing import Any

ALLOWED_FIELDS = frozenset({
    "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig", "projectIdentifier",
    "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
    "requestMetadata", "performanceConfig", "serviceTier", "outputConfig",
})
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_DOCUMENT_NAME = re.compile(r"^(?!.*\s\s)[A-Za-z0-9\s()\[\]-]+$")
_DOCUMENT_FORMATS = frozenset({"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"})
MAX_CACHE_POINTS = 4


class RequestInvalid(ValueError):
    """The request would get a 400 ValidationException from Bedrock."""


def validate_request(body: Any) -> None:
    if not isinstance(body, dict):
        raise RequestInvalid("The request body must be a JSON object.")
    unknown = sorted(set(body) - ALLOWED_FIELDS)
    if unknown:
        raise RequestInvalid(f"Unknown request field(s): {', '.join(unknown)}.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid("The messages field is required and must not be empty.")
    for index, block in enumerate(body.get("system") or []):
        _check_block(block, f"system.{index}")
    _check_inference(body.get("inferenceConfig"))
    _check_output_config(body.get("outputConfig"))
    has_tools = _check_tool_config(body.get("toolConfig"))
    _check_messages(messages, has_tools)
    _check_request_limits(body)


def _check_inference(config: Any) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise RequestInvalid("inferenceConfig must be an object.")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise RequestInvalid("inferenceConfig.maxTokens must be an integer >= 1.")
    stops = config.get("stopSequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(s, str) and s for s in stops)):
        raise RequestInvalid("inferenceConfig.stopSequences must be a list of non-empty strings.")


def _check_output_config(config: Any) -> None:
    """outputConfig.textFormat as botocore's model has it: json_schema with the schema as a JSON string."""
    if config is None:
        return
    text_format = config.get("textFormat") if isinstance(config, dict) else None
    if text_format is None:
        return
    if not isinstance(text_format, dict) or text_format.get("type") != "json_schema":
        raise RequestInvalid("outputConfig.textFormat.type must be json_schema.")
    definition = (text_format.get("structure") or {}).get("jsonSchema")
    if not isinstance(definition, dict) or not isinstance(definition.get("schema"), str):
        raise RequestInvalid("outputConfig.textFormat.structure.jsonSchema.schema must be a JSON string.")
    try:
        schema = json.loads(definition["schema"])
    except ValueError:
        raise RequestInvalid("outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON.") from None
    if not isinstance(schema, dict):
        raise RequestInvalid("outputConfig.textFormat.structure.jsonSchema.schema must be a JSON object.")


def _check_tool_config(config: Any) -> bool:
    if config is None:
        return False
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list) or not tools:
        raise RequestInvalid("toolConfig.tools must contain at least one tool.")
    names = set()
    for index, tool in enumerate(tools):
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if spec is None:
            _check_block(tool, f"toolConfig.tools.{index}")
            continue  # cachePoint entries sit between tools
        name = spec.get("name", "")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise RequestInvalid(f"toolConfig.tools.{index}.toolSpec.name must match [a-zA-Z0-9_-]{{1,64}}.")
        if "description" in spec and not spec["description"]:
            raise RequestInvalid(f"toolConfig.tools.{index}.toolSpec.description must not be empty.")
        if not isinstance(spec.get("inputSchema", {}).get("json"), dict):
            raise RequestInvalid(f"toolConfig.tools.{index}.toolSpec.inputSchema.json is required.")
        if "strict" in spec and not isinstance(spec["strict"], bool):
            raise RequestInvalid(f"toolConfig.tools.{index}.toolSpec.strict must be a boolean.")
        names.add(name)
    forced = (config.get("toolChoice") or {}).get("tool")
    if forced is not None and forced.get("name") not in names:
        raise RequestInvalid("toolConfig.toolChoice.tool.name must name one of the tools.")
    return True


def _check_messages(messages: list[Any], has_tools: bool) -> None:
    pending_tool_ids: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        expected = "user" if index % 2 == 0 else "assistant"
        if role != expected:
            raise RequestInvalid(
                "A conversation must alternate between user and assistant roles, starting with user "
                f"(messages.{index}.role is {role!r})."
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise RequestInvalid(f"messages.{index}.content must be a non-empty list.")
        for number, block in enumerate(content):
            _check_block(block, f"messages.{index}.content.{number}")
        _check_documents(content, role, index)
        uses = [b["toolUse"] for b in content if "toolUse" in b]
        results = [b["toolResult"] for b in content if "toolResult" in b]
        if (uses or results) and not has_tools:
            raise RequestInvalid(
                "The toolConfig field must be defined when using toolUse and toolResult content blocks."
            )
        if role == "user":
            _check_results(index, results, pending_tool_ids)
        pending_tool_ids = {u.get("toolUseId") for u in uses}


def _check_results(index: int, results: list[dict], expected_ids: set[str]) -> None:
    ids = {r.get("toolUseId") for r in results}
    extra = ids - expected_ids
    if extra:
        raise RequestInvalid(
            f"messages.{index}: toolResult ids {sorted(map(str, extra))} do not match any toolUse "
            "in the previous assistant turn."
        )
    missing = expected_ids - ids
    if missing:
        raise RequestInvalid(
            f"Expected toolResult blocks at messages.{index}.content for the following Ids: "
            f"{', '.join(sorted(map(str, missing)))}"
        )


def _check_block(block: Any, where: str) -> None:
    if not isinstance(block, dict) or len(block) != 1:
        raise RequestInvalid(f"{where} must be an object with exactly one content type.")
    if "text" in block and (not isinstance(block["text"], str) or not block["text"].strip()):
        raise RequestInvalid(
            f"The text field in the ContentBlock object at {where} is blank. "
            "Add text to the text field, and try again."
        )
    if "cachePoint" in block:
        point = block["cachePoint"]
        if not isinstance(point, dict) or point.get("type") != "default" or point.get("ttl", "5m") not in ("5m", "1h"):
            raise RequestInvalid(f"{where}.cachePoint must be {{type: default}} with an optional ttl of 5m or 1h.")


def _check_documents(content: list[dict], role: str, index: int) -> None:
    documents = [b["document"] for b in content if "document" in b]
    if not documents:
        return
    if role != "user":
        raise RequestInvalid(f"messages.{index}: documents are only allowed in user messages.")
    if not any("text" in b for b in content):
        raise RequestInvalid(f"messages.{index}: a message with a document must also contain a text block.")
    for document in documents:
        if not isinstance(document, dict) or document.get("format") not in _DOCUMENT_FORMATS:
            raise RequestInvalid(f"messages.{index}: document format must be one of {sorted(_DOCUMENT_FORMATS)}.")
        if not _DOCUMENT_NAME.match(str(document.get("name", ""))):
            raise RequestInvalid(f"messages.{index}: invalid document name {document.get('name')!r}.")
        if not (document.get("source") or {}).get("bytes"):
            raise RequestInvalid(f"messages.{index}: document.source.bytes is required.")


def _check_request_limits(body: dict) -> None:
    """Request-wide: at most 4 cache points, at most 5 documents, unique document names."""
    blocks = [*((body.get("toolConfig") or {}).get("tools") or []), *(body.get("system") or [])]
    for message in body["messages"]:
        blocks += message["content"]
    names = [str(b["document"].get("name", "")).lower() for b in blocks if isinstance(b.get("document"), dict)]
    if len(names) != len(set(names)):
        raise RequestInvalid("Messages can't contain duplicate document names.")
    if len(names) > 5:
        raise RequestInvalid("You can't include more than 5 documents in a request.")
    if sum("cachePoint" in b for b in blocks) > MAX_CACHE_POINTS:
        raise RequestInvalid(f"A request can contain at most {MAX_CACHE_POINTS} cachePoint blocks.")
