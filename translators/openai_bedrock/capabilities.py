"""What a Bedrock model can take: the translator's only knowledge of the target model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelCapabilities:
    tools: bool = True  # toolConfig accepted
    streaming_tools: bool = True  # toolConfig accepted by ConverseStream (not on every model that has tools)
    vision: bool = True  # image blocks in user turns
    system: bool = True  # Converse `system` accepted
    prefill: bool = True  # a trailing assistant turn is continued
    tool_result_images: bool = False  # image blocks inside toolResult (Claude, Nova)
    reasoning: bool = False  # extended thinking / reasoningContent
    documents: bool = False  # document blocks
    native_json_schema: bool = False  # outputConfig.textFormat structured output
    prompt_caching: bool = False  # cachePoint blocks (Claude 3.5 Haiku, 3.7, 4.x; Nova)
    prompt_caching_tools: bool = True  # cachePoint inside toolConfig.tools too (Nova: system/messages only)
