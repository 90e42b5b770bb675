"""Pricing: per-bucket cost, model × region × profile type, Decimal exactness, missing prices flagged."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from proxy.catalog.catalog import ModelCatalog, ModelEntry, Price
from proxy.usage import money, pricing
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.usage import Usage

PRICE = Price(input=Decimal("0.003"), output=Decimal("0.015"), cache_read=Decimal("0.0003"),
              cache_write=Decimal("0.00375"), geo_multiplier=Decimal("1.1"), global_multiplier=Decimal("0.9"))


def entry(bedrock_id: str = "anthropic.claude-x-v1:0", price: Price | None = PRICE) -> ModelEntry:
    return ModelEntry(alias="claude-x", bedrock_id=bedrock_id, description="",
                      capabilities=ModelCapabilities(), price=price)


def usage(inp: int = 0, out: int = 0, read: int = 0, write: int = 0) -> Usage:
    return Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=read, cache_write_tokens=write)


def test_each_bucket_has_its_price() -> None:
    result = pricing.cost(entry(), usage(1000, 2000, 3000, 4000))
    assert result.priced
    assert result.breakdown == {"input": Decimal("0.003"), "output": Decimal("0.030"),
                                "cache_read": Decimal("0.0009"), "cache_write": Decimal("0.015")}
    assert result.cost_usd == Decimal("0.048900000")
    assert result.cost_nanos == 48_900_000


@pytest.mark.parametrize(("bedrock_id", "expected"), [
    ("anthropic.claude-x-v1:0", Decimal("0.018000000")),
    ("us.anthropic.claude-x-v1:0", Decimal("0.019800000")),
    ("eu.anthropic.claude-x-v1:0", Decimal("0.019800000")),
    ("global.anthropic.claude-x-v1:0", Decimal("0.016200000")),
])
def test_profile_multipliers(bedrock_id: str, expected: Decimal) -> None:
    assert pricing.cost(entry(bedrock_id), usage(1000, 1000)).cost_usd == expected


def test_rounding_happens_once_at_the_end_half_even() -> None:
    cheap = Price(input=Decimal("0.0000015"), output=Decimal(0))
    # 1 token = 1.5e-9 USD -> rounds half-even to 2e-9; 3 tokens = 4.5e-9 -> 4e-9 (not 3 x 2e-9).
    assert pricing.cost(entry(price=cheap), usage(1)).cost_usd == Decimal("2E-9")
    assert pricing.cost(entry(price=cheap), usage(3)).cost_usd == Decimal("4E-9")


def test_zero_usage_reported_by_bedrock_costs_zero_and_is_priced() -> None:
    result = pricing.cost(entry(), usage())
    assert result.cost_usd == 0 and result.priced


def test_missing_bucket_price_is_flagged_never_silent() -> None:
    # The log line and the llm_gateway_missing_price_total count happen once per call, in the books:
    # tests/unit/pipeline/test_books.py::test_missing_price_is_logged_and_counted_once_per_call.
    no_cache = Price(input=Decimal("0.003"), output=Decimal("0.015"))
    result = pricing.cost(entry(price=no_cache), usage(1000, 0, read=500))
    assert not result.priced
    assert result.cost_usd == Decimal("0.003000000")  # what could be priced; the record is flagged
    assert result.missing == ("cache_read",)


def test_cache_bucket_without_tokens_needs_no_price() -> None:
    no_cache = Price(input=Decimal("0.003"), output=Decimal("0.015"))
    assert pricing.cost(entry(price=no_cache), usage(1000, 1000)).priced


def test_model_without_price_is_unpriced() -> None:
    result = pricing.cost(entry(price=None), usage(10, 10))
    assert not result.priced and result.cost_usd == 0


def test_sum_of_ten_thousand_records_is_exact() -> None:
    rng = random.Random(5)
    total = Decimal(0)
    total_nanos = 0
    tokens = {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0}
    for _ in range(10_000):
        u = usage(rng.randint(0, 5000), rng.randint(0, 2000), rng.randint(0, 3000), rng.randint(0, 1000))
        result = pricing.cost(entry(), u)
        total += result.cost_usd
        total_nanos += result.cost_nanos
        for bucket, key in pricing.BUCKETS:
            tokens[bucket] += getattr(u, key)
    # In-region prices have at most 7 decimals per 1K tokens: every record is exact at 1e-9, so
    # the sum of records equals the price of the summed tokens, to the nano-dollar.
    expected = sum((Decimal(tokens[b]) * getattr(PRICE, b) / 1000 for b in tokens), Decimal(0))
    assert total == expected
    assert money.from_nanos(total_nanos) == expected


def test_worst_case_cost_rounds_up_and_uses_multiplier() -> None:
    assert pricing.worst_case_cost(entry(), 1000, 1000) == Decimal("0.018000000")
    assert pricing.worst_case_cost(entry("us.anthropic.claude-x-v1:0"), 1000, 1000) == Decimal("0.019800000")
    tiny = Price(input=Decimal("0.0000011"), output=Decimal(0))
    assert pricing.worst_case_cost(entry(price=tiny), 1, 0) == Decimal("2E-9")
    assert pricing.worst_case_cost(entry(price=None), 1000, 1000) == 0


# --- model × region × profile type -------------------------------------------------------------------------

REGIONAL = Price(input=PRICE.input, output=PRICE.output, cache_read=PRICE.cache_read, cache_write=PRICE.cache_write,
                 geo_multiplier=PRICE.geo_multiplier, global_multiplier=PRICE.global_multiplier,
                 regions={"eu-central-1": Price(input=Decimal("0.004"), output=Decimal("0.02"),
                                                cache_read=PRICE.cache_read, cache_write=PRICE.cache_write,
                                                geo_multiplier=Decimal("1.2"), global_multiplier=Decimal("1"))})


def catalog(region: str | None) -> ModelCatalog:
    return ModelCatalog([entry(price=REGIONAL)], region=region)


@pytest.mark.parametrize(("region", "model", "expected"), [
    (None, "claude-x", Decimal("0.018000000")),
    ("us-east-1", "claude-x", Decimal("0.018000000")),  # no override: the base price
    ("eu-central-1", "claude-x", Decimal("0.024000000")),  # 0.004 + 0.02
    ("eu-central-1", "anthropic.claude-x-v1:0", Decimal("0.024000000")),  # raw id, in-region
    ("eu-central-1", "eu.anthropic.claude-x-v1:0", Decimal("0.028800000")),  # source region × its geo 1.2
    ("eu-central-1", "global.anthropic.claude-x-v1:0", Decimal("0.024000000")),  # its global 1.0
    ("us-east-1", "us.anthropic.claude-x-v1:0", Decimal("0.019800000")),  # base × geo 1.1
    ("us-east-1", "global.anthropic.claude-x-v1:0", Decimal("0.016200000")),  # base × global 0.9
    # An ARN is billed in its own region, whatever AWS_REGION says.
    ("us-east-1", "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-x-v1:0", Decimal("0.024000000")),
    ("eu-central-1", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-x-v1:0", Decimal("0.018000000")),
])
def test_cost_by_model_region_and_profile_type(region: str | None, model: str, expected: Decimal) -> None:
    result = pricing.cost(catalog(region).resolve(model), usage(1000, 1000))
    assert result.priced and result.cost_usd == expected


def test_worst_case_cost_uses_the_regional_price() -> None:
    assert pricing.worst_case_cost(catalog("eu-central-1").resolve("claude-x"), 1000, 1000) == Decimal("0.024000000")
    assert pricing.worst_case_cost(catalog("eu-central-1").resolve("eu.anthropic.claude-x-v1:0"), 1000, 1000) \
        == Decimal("0.028800000")


def test_regional_cache_buckets_fall_back_to_the_base_price() -> None:
    result = pricing.cost(catalog("eu-central-1").resolve("claude-x"), usage(0, 0, read=1000, write=1000))
    assert result.breakdown == {"cache_read": Decimal("0.0003"), "cache_write": Decimal("0.00375")}


def test_packaged_catalog_prices_the_region_requests_go_to() -> None:
    mumbai = ModelCatalog.load(region="ap-south-1")
    virginia = ModelCatalog.load(region="us-east-1")
    assert pricing.cost(mumbai.resolve("llama3-70b"), usage(1000, 1000)).cost_usd == Decimal("0.007380000")
    assert pricing.cost(virginia.resolve("llama3-70b"), usage(1000, 1000)).cost_usd == Decimal("0.006150000")
    paris = ModelCatalog.load(region="eu-west-3")
    assert pricing.cost(paris.resolve("mistral-large"), usage(1000, 1000)).cost_usd == Decimal("0.020800000")
