"""tools / tool_choice / response_format -> Converse toolConfig (+ the forced JSON tool) or outputConfig.

response_format json_schema becomes Bedrock's native structured output (outputConfig.textFormat) on
models whose capabilities say native_json_schema, and a forced tool elsewhere; `strict` function tools
become strict toolSpecs on those models (and are plain tools elsewhere).

No toolConfig unless the caller sent tools, response_format needs one, or history holds tool blocks
(Bedrock rejects toolUse/toolResult without a toolConfig: PITFALLS #14, #15).
A tool's `cache_control` (or its function's) puts a cachePoint right after that tool in toolConfig.tools.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from translators.openai_bedrock.caching import CachePoint, append_point, cache_point
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.openai_bedrock.errors import TranslationError
from translators.openai_bedrock.mappings import JSON_OBJECT_INSTRUCTION, JSON_TOOL_NAME, safe_tool_name
from translators.openai_bedrock.messages import Conversation

_DEFAULT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_SCHEMA_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_JSON_TOOL_DESCRIPTION = "Respond with your final answer as this tool's input."


@dataclass
class ToolPlan:
    tool_config: dict[str, Any] | None = None
    tool_names: dict[str, str] = field(default_factory=dict)
    json_tool: str | None = None
    output_config: dict[str, Any] | None = None  # native structured output
    instructions: list[str] = field(default_factory=list)  # appended to the system prompt


@dataclass(frozen=True)
class _ToolSource:
    """Where the client's tools came from, for errors that name what the client sent."""

    tools: Any
    choice: Any
    tools_param: str = "tools"
    choice_param: str = "tool_choice"

    def tool_param(self, i: int) -> str:
        return f"{self.tools_param}[{i}]"

    def function_param(self, i: int) -> str:
        """A legacy `functions[i]` entry is the function object itself."""
        return f"tools[{i}].function" if self.tools_param == "tools" else f"functions[{i}]"


def _legacy_functions(body: dict[str, Any]) -> _ToolSource:
    """Deprecated `functions`/`function_call` are translated to tools/tool_choice."""
    if body.get("functions") is None:
        return _ToolSource(body.get("tools"), body.get("tool_choice"))
    if body.get("tools") is not None:
        raise TranslationError(
            "send either 'tools' or the deprecated 'functions', not both", param="functions"
        )
    if not isinstance(body["functions"], list):
        raise TranslationError("'functions' must be an array of function definitions", param="functions")
    tools = [{"type": "function", "function": f} for f in body["functions"]]
    choice = body.get("function_call")
    if isinstance(choice, dict):
        choice = {"type": "function", "function": {"name": choice.get("name")}}
    return _ToolSource(tools, choice, "functions", "function_call")


def _tool_spec(tool: Any, i: int, names: dict[str, str], caps: ModelCapabilities, src: _ToolSource) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        param = f"{src.tool_param(i)}.type" if isinstance(tool, dict) else src.tool_param(i)
        raise TranslationError("only tools of type 'function' are supported", param=param)
    fn, where = tool.get("function"), src.function_param(i)
    if not isinstance(fn, dict):
        raise TranslationError("tool function must be an object", param=where)
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError("tool function.name must be a non-empty string", param=f"{where}.name")
    safe = safe_tool_name(name)
    if safe in names:
        raise TranslationError(f"duplicate tool name {name!r}", param=f"{where}.name")
    names[safe] = name
    schema = fn.get("parameters") or _DEFAULT_SCHEMA
    if not isinstance(schema, dict):
        raise TranslationError("function.parameters must be a JSON schema object", param=f"{where}.parameters")
    description = _text_or(fn.get("description"), name, f"{where}.description")
    spec: dict[str, Any] = {"name": safe, "description": description, "inputSchema": {"json": schema}}
    if fn.get("strict") is True and caps.native_json_schema:
        spec["strict"] = True
    return {"toolSpec": spec}


def _text_or(value: Any, default: str, param: str) -> str:
    """A description: Bedrock types it as a non-empty string, so an empty one becomes `default` (PITFALLS #12)."""
    if value is not None and not isinstance(value, str):
        raise TranslationError(f"{param} must be a string", param=param, code="invalid_type")
    return value or default


def _tool_point(tool: Any, i: int, src: _ToolSource) -> CachePoint | None:
    point = cache_point(tool, src.tool_param(i))
    fn = tool.get("function") if isinstance(tool, dict) else None
    return point or cache_point(fn, src.function_param(i))


def _choice(choice: Any, names: dict[str, str], param: str) -> dict[str, Any] | str | None:
    """Converse toolChoice, the string "none", or None for "not given"."""
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"auto": {}} if choice == "auto" else "none"
    if choice == "required":
        return {"any": {}}
    fn = choice.get("function") if isinstance(choice, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str) or safe_tool_name(name) not in names:
        raise TranslationError(f"{param} names an unknown tool {name!r}", param=param)
    return {"tool": {"name": safe_tool_name(name)}}


def _json_spec(body: dict[str, Any], caps: ModelCapabilities, names: dict[str, str]) -> dict[str, Any] | str | None:
    """The forced-tool spec for response_format, {"native": outputConfig}, JSON_OBJECT_INSTRUCTION, or None."""
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else fmt
    if kind in (None, "text"):
        return None
    if kind not in ("json_object", "json_schema"):
        raise TranslationError(
            "response_format.type must be text, json_object or json_schema",
            param="response_format.type" if isinstance(fmt, dict) else "response_format",
        )
    spec = fmt.get("json_schema") if kind == "json_schema" and isinstance(fmt, dict) else None
    if kind == "json_schema" and not isinstance(spec, dict):
        raise TranslationError(
            "response_format.json_schema must be an object", param="response_format.json_schema"
        )
    if spec is not None and caps.native_json_schema:
        return {"native": _output_config(spec)}
    if not caps.tools:
        if kind == "json_object":
            return JSON_OBJECT_INSTRUCTION
        raise TranslationError(
            "response_format json_schema needs a model with tool use or native structured output",
            param="response_format",
            code="unsupported_parameter",
        )
    name = JSON_TOOL_NAME if JSON_TOOL_NAME not in names else f"{JSON_TOOL_NAME}_1"
    where = "response_format.json_schema"
    schema = _schema(spec or {}, where)
    description = _text_or((spec or {}).get("description"), _JSON_TOOL_DESCRIPTION, f"{where}.description")
    return {"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}}


def _schema(spec: dict[str, Any], where: str) -> dict[str, Any]:
    schema = spec.get("schema") or {"type": "object"}
    if not isinstance(schema, dict):
        raise TranslationError(f"{where}.schema must be a JSON schema object", param=f"{where}.schema")
    return schema


def _output_config(spec: dict[str, Any]) -> dict[str, Any]:
    """outputConfig.textFormat: Bedrock constrains the text itself, which then is message.content."""
    schema = _schema(spec, "response_format.json_schema")
    name = spec.get("name")
    definition: dict[str, Any] = {
        "schema": json.dumps(schema, separators=(",", ":"), ensure_ascii=False),  # Bedrock takes a string
        "name": name if isinstance(name, str) and _SCHEMA_NAME.fullmatch(name) else "response",
    }
    description = _text_or(spec.get("description"), "", "response_format.json_schema.description")
    if description:
        definition["description"] = description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


def _history_specs(conv: Conversation, names: dict[str, str]) -> list[dict[str, Any]]:
    """Minimal specs for tools used in history but absent from `tools` (PITFALLS #15)."""
    specs = []
    for safe, original in conv.tool_names.items():
        if safe not in names:
            names[safe] = original
            specs.append(
                {
                    "toolSpec": {
                        "name": safe,
                        "description": original,
                        "inputSchema": {"json": {"type": "object"}},
                    }
                }
            )
    return specs


def plan_tools(
    body: dict[str, Any], conv: Conversation, caps: ModelCapabilities, *, thinking: bool
) -> ToolPlan:
    src = _legacy_functions(body)
    tools, choice_value = src.tools, src.choice
    plan = ToolPlan()
    if tools is not None and not isinstance(tools, list):
        raise TranslationError("'tools' must be a list", param="tools")
    if tools and not caps.tools:
        raise TranslationError(
            "this model does not support tools", param=src.tools_param, code="unsupported_parameter"
        )
    specs: list[dict[str, Any]] = []
    for i, tool in enumerate(tools or []):
        specs.append(_tool_spec(tool, i, plan.tool_names, caps, src))
        append_point(specs, _tool_point(tool, i, src))
    if choice_value is not None and not isinstance(choice_value, str | dict):
        raise TranslationError(f"'{src.choice_param}' must be a string or an object", param=src.choice_param,
                               code="invalid_type")
    choice = _choice(choice_value, plan.tool_names, src.choice_param) if specs else None  # PITFALLS #13
    json_spec = _json_spec(body, caps, plan.tool_names)
    if isinstance(json_spec, str):
        plan.instructions.append(json_spec)
    elif json_spec is not None and "native" in json_spec:
        plan.output_config = json_spec["native"]
    elif json_spec is not None:
        plan.json_tool = json_spec["toolSpec"]["name"]
        choice = _json_choice(plan.json_tool, choice, bool(specs), thinking, plan)
        specs.append(json_spec)
    if choice == "none" and not conv.has_tool_blocks:  # PITFALLS #16: Converse has no "none"
        return plan
    specs += _history_specs(conv, plan.tool_names)
    if specs:
        plan.tool_config = {"tools": specs}
        if isinstance(choice, dict):
            plan.tool_config["toolChoice"] = choice
    return plan


def _json_choice(
    name: str, choice: Any, user_tools: bool, thinking: bool, plan: ToolPlan
) -> dict[str, Any] | str | None:
    if thinking:  # Claude refuses forced tool use while extended thinking is on
        plan.instructions.append(f"Give your final answer by calling the {name} tool.")
        return {"auto": {}}
    if isinstance(choice, dict) and "tool" in choice:
        return choice
    if user_tools and choice != "none":
        return {"any": {}}
    return {"tool": {"name": name}}
