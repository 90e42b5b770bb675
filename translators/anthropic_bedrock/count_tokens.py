"""`POST /v1/messages/count_tokens` for Claude models: Bedrock's CountTokens with an InvokeModel body (pure).

CountTokens (POST /model/{modelId}/count-tokens) takes `{"input": {"invokeModel": {"body": <blob>}}}`: the
InvokeModel body, base64 in the JSON wire format. Models without CountTokens use estimate_input_tokens.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from translators.anthropic_bedrock.capabilities import AnthropicCapabilities
from translators.anthropic_bedrock.invoke import anthropic_request_to_invoke


def count_tokens_request(
    body: dict[str, Any], *, beta_header: str | None, allowed_betas: frozenset[str], capabilities: AnthropicCapabilities
) -> dict[str, Any]:
    """The CountTokens request body; count_tokens has no max_tokens, InvokeModel needs one (it is not counted)."""
    fields = {**body, "max_tokens": 1} if isinstance(body, dict) and body.get("max_tokens") is None else body
    invoke = anthropic_request_to_invoke(
        fields, beta_header=beta_header, allowed_betas=allowed_betas, capabilities=capabilities
    )
    return {"input": {"invokeModel": {"body": base64.b64encode(orjson.dumps(invoke.body)).decode()}}}


def count_tokens_response(bedrock_response: Any) -> dict[str, int] | None:
    """Anthropic's count_tokens answer from CountTokens' {"inputTokens": N}; None when it holds no count."""
    count = bedrock_response.get("inputTokens") if isinstance(bedrock_response, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return None
    return {"input_tokens": count}


def estimate_response(input_tokens: int) -> dict[str, int]:
    """Anthropic's count_tokens answer from the gateway's own estimate (models without CountTokens)."""
    return {"input_tokens": input_tokens}
