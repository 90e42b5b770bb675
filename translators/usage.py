"""The provider-neutral token usage of one call: what pricing, limits, metrics and the books read.

Each translator maps its upstream's usage block to this (as Envoy AI Gateway's translators return
token usage), so nothing outside ``translators/`` and ``proxy/providers/`` knows a vendor's field names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0  # prompt tokens billed at the input price (neither read from nor written to a cache)
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # already inside output_tokens, where an upstream reports them apart

    @property
    def prompt_tokens(self) -> int:
        """What OpenAI calls prompt_tokens: every input token, cached or not (PITFALLS #35)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


def openai_usage_block(usage: Usage) -> dict[str, object]:
    """The chat-completions ``usage`` object; cached_tokens = cache reads."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens,
                                  "cache_write_tokens": usage.cache_write_tokens},
    }
