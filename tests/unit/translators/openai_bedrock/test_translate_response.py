"""Bedrock usage blocks as the billing code needs them: non-negative ints, whatever Bedrock sent."""

from __future__ import annotations

from translators.openai_bedrock import clean_usage


def test_clean_usage_keeps_counts_and_zeroes_what_is_not_one() -> None:
    assert clean_usage(None) is None and clean_usage("x") is None
    assert clean_usage({}) == {}
    raw = {"inputTokens": 5, "outputTokens": None, "totalTokens": True, "cacheReadInputTokens": -3,
           "cacheWriteInputTokens": "4", "serverToolUsage": {"x": 1}}
    assert clean_usage(raw) == {"inputTokens": 5, "outputTokens": 0, "totalTokens": 0,
                                "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}
    assert clean_usage({"inputTokens": 0, "outputTokens": 0}) == {"inputTokens": 0, "outputTokens": 0}
