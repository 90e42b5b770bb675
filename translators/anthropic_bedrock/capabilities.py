"""What a Claude model on Bedrock's InvokeModel accepts beyond the core Messages API (the invoke translator's
only knowledge of the target model). Fields a model does not take are stripped when they are hints and refused
(a 400 naming them) when dropping them would change what the client asked for.

Converse models are described by translators/openai_bedrock/capabilities.py ModelCapabilities instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnthropicCapabilities:
    thinking: bool = True  # thinking {type: enabled, budget_tokens}; else enabled/adaptive is a 400, disabled dropped
    adaptive_thinking: bool = False  # thinking {type: adaptive} (Opus 4.6+); else sent as enabled, budget max_tokens-1
    context_management: bool = False  # `context_management` (context editing); else stripped
    cache_ttl: bool = False  # cache_control.ttl ("5m"/"1h"); else stripped (the 5-minute default applies)
    cache_scope: bool = False  # cache_control.scope (prompt-caching-scope beta); else stripped
    effort: bool = False  # output_config.effort; else stripped
    structured_outputs: bool = False  # output_config.format (and legacy output_format); else a 400
    tool_search: bool = False  # tool search tools, defer_loading, tool_reference blocks; else loaded up front
    server_tools: bool = False  # Anthropic-hosted tools (web_search, web_fetch, code_execution, ...); else a 400
    metadata: bool = True  # metadata.user_id (the only metadata key Bedrock accepts); else stripped
