"""The Bedrock side of the pass-through (proxy/pipeline/passthrough.py): the client's bytes as they go to
Bedrock, and the usage read out of Bedrock's answer or event stream while its bytes go back untouched."""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.errors import InvalidRequest
from proxy.providers.bedrock.eventstream import EventStreamDecoder
from proxy.providers.bedrock.tokens import estimate_prompt_tokens
from translators.anthropic_bedrock import InvokeStreamReader, estimate_input_tokens, invoke_usage
from translators.openai_bedrock import converse_usage
from translators.usage import Usage

log = logging.getLogger("llm_gateway.passthrough")

OPERATIONS = {"invoke": False, "invoke-with-response-stream": True, "converse": False, "converse-stream": True}
JSON = "application/json"
EVENTSTREAM = "application/vnd.amazon.eventstream"


@dataclass(frozen=True, slots=True)
class PreparedPassthrough:
    operation: str
    payload: bytes  # the client's body, byte for byte
    stream: bool
    max_tokens: int | None
    prompt_estimate: int


def prepare(operation: str, payload: bytes, allowed_betas: frozenset[str] = frozenset()) -> PreparedPassthrough:
    """The client's bytes, unchanged but for one thing: betas Bedrock does not take for this model are
    dropped from ``anthropic_beta`` (Claude Code sends some that Bedrock answers with 400 invalid beta flag)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if operation.startswith("invoke"):
        max_tokens, estimate = body.get("max_tokens"), estimate_input_tokens(body)
        betas = body.get("anthropic_beta")
        if isinstance(betas, list) and any(beta not in allowed_betas for beta in betas):
            kept = [beta for beta in betas if beta in allowed_betas]
            body = {k: v for k, v in body.items() if k != "anthropic_beta"} | ({"anthropic_beta": kept} if kept else {})
            payload = orjson.dumps(body)
    else:
        config = body.get("inferenceConfig")
        max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
        estimate = estimate_prompt_tokens(body)
    return PreparedPassthrough(operation, payload, OPERATIONS[operation],
                               max_tokens if isinstance(max_tokens, int) else None, estimate)


class UsageMeter:
    """Reads usage out of the upstream's answer while its bytes go to the client untouched."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.decoder = EventStreamDecoder()
        self.reader = InvokeStreamReader()
        self.usage: Usage | None = None
        self.complete = False

    def answer(self, raw: bytes) -> Usage:
        try:
            data: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Usage()
        if self.operation == "invoke":
            return invoke_usage(data)
        return converse_usage(data.get("usage") if isinstance(data, dict) else None) or Usage()

    def feed(self, data: bytes) -> None:
        try:
            for message in self.decoder.feed(data):
                self._message(message.headers, message.payload)
        except ValueError:  # a frame we cannot read is still the client's to read; metering falls back
            log.warning("pass-through: an event-stream frame could not be metered")

    def _message(self, headers: dict[str, Any], payload: bytes) -> None:
        kind = headers.get(":event-type")
        if self.operation == "invoke-with-response-stream" and kind == "chunk":
            try:
                chunk = orjson.loads(payload)
                self.reader.feed(base64.b64decode(chunk.get("bytes") or b"", validate=True))
            except (orjson.JSONDecodeError, binascii.Error, AttributeError, ValueError):
                return
            self.usage = self.reader.usage
            self.complete = self.reader.saw_message_stop
        elif kind == "messageStop":
            self.complete = True
        elif kind == "metadata":
            with_usage = orjson.loads(payload) if payload else {}
            self.usage = converse_usage(with_usage.get("usage") if isinstance(with_usage, dict) else None)


# GatewayError status -> the Bedrock exception name an AWS SDK maps it to.
BEDROCK_ERRORS = {400: "ValidationException", 401: "AccessDeniedException", 403: "AccessDeniedException",
                  404: "ResourceNotFoundException", 408: "ModelTimeoutException", 413: "ValidationException",
                  429: "ThrottlingException", 500: "InternalServerException", 502: "InternalServerException",
                  503: "ServiceUnavailableException", 504: "ModelTimeoutException"}


def error_answer(status: int, message: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of an error as Bedrock words it (x-amzn-ErrorType), for the AWS SDKs to map."""
    name = BEDROCK_ERRORS.get(status, "InternalServerException")
    return ({"x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"},
            orjson.dumps({"message": message}))
