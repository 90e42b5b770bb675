"""The provider seam: what the call pipeline (proxy/pipeline/) asks of an upstream, and what it gets back.

A provider owns one upstream API: it turns a chat-completions request into that API's request
(``prepare``, pure, before admission so a bad request costs no limiter round trip), does the I/O, and
answers in OpenAI's chat shapes plus a neutral ``Usage``. Vendor wire shapes stay inside the provider's
package and ``translators/``; pricing, limits, metrics and the books read only ``Usage``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.catalog.catalog import ModelEntry
from translators.usage import Usage

__all__ = [
    "CHARS_PER_TOKEN", "CallInfo", "ChatStream", "Completion", "PreparedChat", "Provider", "UnreadableResponse",
    "Usage",
]

# Every provider's rough estimate (admission only; real usage always wins): ~4 characters a token.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a provider echoes into its answer; chosen by the pipeline, so translators stay pure."""

    request_id: str
    model: str  # the name the client sent, echoed back
    completion_id: str
    created: int


class PreparedChat(Protocol):
    """A chat request already in the upstream's form, with what admission needs to know of it."""

    @property
    def stream(self) -> bool: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def prompt_estimate(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Completion:
    body: dict[str, Any]  # a chat.completion (or an embeddings list), without the gateway's own fields
    usage: Usage
    estimated: bool = False  # the upstream reported no usage: ``usage`` is the gateway's estimate


class UnreadableResponse(Exception):
    """The upstream answered (and billed) something we cannot translate; carries the usage to book.

    Raised ``from`` the translation error, which the app logs as our bug (a 500 to the client).
    """

    def __init__(self, usage: Usage) -> None:
        super().__init__("unreadable upstream response")
        self.usage = usage


class ChatStream(Protocol):
    """An upstream stream already past its first event (so errors before content were real HTTP errors).

    Iterating yields the chat.completion.chunk dicts of one upstream event at a time (often none);
    ``finish()`` yields the tail once the upstream is done, or raises a GatewayError for a stream that
    ended before the model finished. ``usage`` is set once the upstream reported it.
    """

    usage: Usage | None

    def __aiter__(self) -> AsyncIterator[list[Any]]: ...  # chat chunks (dicts) or Anthropic (type, bytes)
    def finish(self) -> list[Any]: ...
    async def aclose(self) -> None: ...


class Provider(Protocol):
    name: str  # what gateway_metadata.provider and x-gateway-provider say, e.g. "aws-bedrock"

    def prepare(self, body: dict[str, Any], entry: ModelEntry, *, drop_unsupported: bool) -> PreparedChat:
        """Pure; raises InvalidRequest naming the parameter for what the upstream cannot express."""
        ...

    async def chat(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion: ...
    async def chat_stream(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> ChatStream: ...

    # The Anthropic Messages API (/v1/messages): the same seam, in Anthropic's shapes. Stream items are
    # (event type, JSON bytes) pairs; Completion.body is an Anthropic message.
    def prepare_messages(self, body: dict[str, Any], entry: ModelEntry, *, beta_header: str | None) -> PreparedChat:
        ...

    async def messages(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion: ...
    async def messages_stream(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> ChatStream: ...
    async def count_tokens(self, entry: ModelEntry, body: dict[str, Any], *, beta_header: str | None,
                           request_id: str) -> dict[str, int]: ...

    # POST /v1/embeddings: Completion.body is OpenAI's embeddings list.
    def prepare_embeddings(self, body: dict[str, Any], entry: ModelEntry) -> PreparedChat: ...
    async def embeddings(self, entry: ModelEntry, prepared: PreparedChat, info: CallInfo) -> Completion: ...

    def ready(self) -> str | None:
        """None when it can serve calls; else why not, in words safe to show (never a secret)."""
        ...

    async def start(self) -> None: ...
    async def close(self) -> None: ...
