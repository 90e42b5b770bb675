"""An Answer as OpenAI sends it: one ``chat.completion`` object, or the ``chat.completion.chunk`` list of a stream.

Stream shape (https://platform.openai.com/docs/api-reference/chat-streaming): a role chunk, text word by
word, each tool call as a header chunk then its arguments in three pieces, a finish chunk, and only when
``stream_options.include_usage`` is true a last chunk with ``choices: []`` and ``usage`` (every chunk
before it then carries ``usage: null``).
"""

from __future__ import annotations

from typing import Any

from bedrock_emulator.events import split_in, words
from openai_emulator.chat import Answer, usage_body

# A fixed `created` keeps bodies byte-for-byte predictable; the API only requires an integer.
CREATED = 1_700_000_000
FINGERPRINT = "fp_emulator"


def completion_body(answer: Answer, *, model: str, completion_id: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None, "annotations": []}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}],
        "usage": usage_body(answer),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def completion_chunks(answer: Answer, *, model: str, completion_id: str, include_usage: bool) -> list[dict[str, Any]]:
    base: dict[str, Any] = {
        "id": completion_id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
        "service_tier": "default", "system_fingerprint": FINGERPRINT,
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**base, "choices": [choice]}

    role_content = None if answer.tool_calls and answer.content is None else ""
    chunks = [chunk({"role": "assistant", "content": role_content, "refusal": None})]
    chunks.extend(chunk({"content": piece}) for piece in words(answer.content or ""))
    for index, call in enumerate(answer.tool_calls):
        header = {"index": index, "id": call["id"], "type": "function",
                  "function": {"name": call["function"]["name"], "arguments": ""}}
        chunks.append(chunk({"tool_calls": [header]}))
        for piece in split_in(call["function"]["arguments"], 3):
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    chunks.append(chunk({}, answer.finish_reason))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": usage_body(answer)})
    return chunks
