"""The emulated chat model: a deterministic answer (text or tool calls, finish_reason, usage) for a request.

It answers as the Bedrock emulator does (``Echo: ...``, ``Result: ...``, tool input generated from the
schema), so the same test reads the same against either upstream. Tokens are ceil(characters / 4).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from bedrock_emulator.directives import strip_directives
from bedrock_emulator.reply import schema_example, tokens
from openai_emulator.directives import OpenAIDirectives

# Each image costs what OpenAI charges a low-detail image: a constant, so counts stay predictable.
IMAGE_TOKENS = 85
TOOL_PREAMBLE = "Let me call a tool for that."
_TOOL_WORDS = ("weather",)
_IMAGE_PARTS = frozenset({"image_url", "input_image"})


@dataclass
class Answer:
    content: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def content_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text parts of a part list joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def count_images(messages: list[Any]) -> int:
    """Image parts over all messages; tolerant of malformed messages (it runs before validation)."""
    return sum(
        1
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") in _IMAGE_PARTS
    )


def conversation_tail(messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """(text of the last user message, the trailing tool results); after tool results the text is ``""``,
    as in the Bedrock emulator, whose last user turn then holds only toolResults."""
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, content_text(message.get("content")))
    if results:
        return "", results
    user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return content_text(user.get("content")), []


def answer_chat(body: dict[str, Any], found: OpenAIDirectives) -> Answer:
    messages: list[dict[str, Any]] = body["messages"]
    text, results = conversation_tail(messages)
    calls = tool_calls(body, text, results, found)
    if calls:
        content = TOOL_PREAMBLE if found.text_before_tool else None
        finish = "tool_calls"
    else:
        content, finish = _apply_limits(_answer_text(body, text, results, found), body)
    completion_chars = len(content or "") + sum(len(c["function"]["arguments"]) for c in calls)
    prompt, completion = found.usage or (prompt_tokens(body), tokens(completion_chars))
    return Answer(content, found.stop or finish, prompt, completion, calls)


def prompt_tokens(body: dict[str, Any]) -> int:
    """ceil(characters / 4) over message text, assistant tool calls and tool specs (as JSON), plus images."""
    messages: list[dict[str, Any]] = body["messages"]
    chars = len(orjson.dumps(body["tools"])) if body.get("tools") else 0
    for message in messages:
        chars += len(content_text(message.get("content")))
        if message.get("tool_calls"):
            chars += len(orjson.dumps(message["tool_calls"]))
    return tokens(chars) + IMAGE_TOKENS * count_images(messages)


def _answer_text(body: dict[str, Any], text: str, results: list[str], found: OpenAIDirectives) -> str:
    if found.reply is not None:
        return found.reply
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return orjson.dumps(schema_example(schema)).decode()
    if response_format.get("type") == "json_object":
        return orjson.dumps({"echo": strip_directives(text)[:200]}).decode()
    if found.words:
        return " ".join(f"word{i}" for i in range(1, found.words + 1))
    if results and not strip_directives(text):
        return "Result: " + results[0][:200]
    return f"Echo: {strip_directives(text)[:200]}"


def _apply_limits(answer: str, body: dict[str, Any]) -> tuple[str, str]:
    # OpenAI cuts before the first stop sequence and, unlike Bedrock, does not say which one matched.
    stops = body.get("stop")
    stops = [stops] if isinstance(stops, str) else stops or []
    cuts = [answer.find(s) for s in stops if s and s in answer]
    if cuts:
        answer = answer[: min(cuts)]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and tokens(len(answer)) > limit:
        return answer[: limit * 4], "length"
    return answer, "stop"


def tool_calls(body: dict[str, Any], text: str, results: list[str], found: OpenAIDirectives) -> list[dict[str, Any]]:
    """The tool calls to answer with: forced by ``tool_choice``, or asked for (and no results yet)."""
    specs = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if not specs or choice == "none":
        return []
    function = choice.get("function") if isinstance(choice, dict) else None
    named = function.get("name") if isinstance(function, dict) else None
    asked = found.tool or any(word in text.lower() for word in _TOOL_WORDS)
    if not (choice == "required" or named) and not (asked and not results):
        return []
    spec = next(s for s in specs if s["name"] == named) if named else specs[0]
    count = 1 if body.get("parallel_tool_calls") is False else max(1, found.parallel_tools)
    arguments = orjson.dumps(_reply_object(found) or schema_example(spec.get("parameters") or {})).decode()
    # Ids differ per conversation, so a second round of calls never reuses the first round's ids.
    digest = hashlib.sha256(orjson.dumps(body["messages"])).hexdigest()[:20]
    return [
        {"id": f"call_{digest}{i}", "type": "function", "function": {"name": spec["name"], "arguments": arguments}}
        for i in range(count)
    ]


def _reply_object(found: OpenAIDirectives) -> dict[str, Any] | None:
    """A JSON-object ``reply`` directive doubles as the tool arguments, as in the Bedrock emulator."""
    try:
        value = orjson.loads(found.reply) if found.reply else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def usage_body(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    }
