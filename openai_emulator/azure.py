"""What Azure OpenAI adds to OpenAI's wire format: the api-version rule and content-filter annotations.

Azure annotates every completion with ``prompt_filter_results`` / ``content_filter_results``, and starts a
stream with a chunk whose ``choices`` is empty and whose id/model/object are blank: a client (or gateway)
that assumes ``choices[0]`` on every chunk breaks on real Azure, so the emulator sends it too.
"""

from __future__ import annotations

from typing import Any

from openai_emulator.asgi import OpenAIError
from openai_emulator.routes import API_VERSION, Route

_SAFE = {"filtered": False, "severity": "safe"}
CONTENT_FILTER_RESULTS: dict[str, Any] = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
PROMPT_FILTER_RESULTS: list[dict[str, Any]] = [
    {"prompt_index": 0, "content_filter_results": {**CONTENT_FILTER_RESULTS, "jailbreak": {"filtered": False,
                                                                                        "detected": False}}}
]
UNAUTHORIZED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)


def check_api_version(route: Route, query: dict[str, list[str]]) -> str | None:
    """The api-version the per-deployment form requires (None on other routes, where it is optional)."""
    versions = query.get("api-version") or []
    if route.api != "azure":
        return versions[0] if versions else None
    if not versions:
        raise OpenAIError(400, "Missing required query parameter 'api-version'.", code="MissingApiVersionParameter")
    if not API_VERSION.match(versions[0]):
        raise OpenAIError(
            400, f"Invalid api-version '{versions[0]}' (expected YYYY-MM-DD or YYYY-MM-DD-preview).",
            code="InvalidApiVersionParameter",
        )
    return versions[0]


def annotate_completion(body: dict[str, Any]) -> dict[str, Any]:
    for choice in body["choices"]:
        choice["content_filter_results"] = CONTENT_FILTER_RESULTS
    body["prompt_filter_results"] = PROMPT_FILTER_RESULTS
    return body


def annotate_chunks(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Azure's stream: a blank prompt-filter chunk first, filter results on every content chunk."""
    for chunk in chunks:
        for choice in chunk["choices"]:
            has_content = bool(choice["delta"].get("content"))
            choice["content_filter_results"] = CONTENT_FILTER_RESULTS if has_content else {}
    lead = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": PROMPT_FILTER_RESULTS}
    return [lead, *chunks]
