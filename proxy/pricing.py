"""Cost of one Bedrock call from the catalog's per-bucket prices (pure; Decimal only, never floats).

Cost = Σ tokens(bucket) × price(bucket) / 1000, × the profile multiplier (geo / global), rounded
once at the end to 1e-9 USD (half-even). A missing price is flagged (priced=False), never $0 silently.
``entry.price`` is already the price of the region the call is billed in: ModelCatalog is built for
AWS_REGION and resolves ``Price.for_region`` (model × region here, × profile type via the multiplier).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal

from proxy.catalog import ModelEntry, Price

log = logging.getLogger("llm_gateway.pricing")

QUANTUM = Decimal("1e-9")  # one nano-dollar: what the stores keep as integers
NANOS = Decimal(10) ** 9
_THOUSAND = Decimal(1000)

# (price attribute, Bedrock usage key) in billing order.
BUCKETS: tuple[tuple[str, str], ...] = (
    ("input", "inputTokens"),
    ("output", "outputTokens"),
    ("cache_read", "cacheReadInputTokens"),
    ("cache_write", "cacheWriteInputTokens"),
)

# Requests priced with a missing price, by model alias; exported as a metric by whoever scrapes it.
missing_price_total: Counter[str] = Counter()


@dataclass(frozen=True)
class CostResult:
    cost_usd: Decimal
    priced: bool
    breakdown: dict[str, Decimal] = field(default_factory=dict)  # bucket -> USD (before rounding)

    @property
    def cost_nanos(self) -> int:
        return to_nanos(self.cost_usd)


def to_nanos(usd: Decimal) -> int:
    return int((usd * NANOS).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_nanos(nanos: int) -> Decimal:
    return (Decimal(nanos) / NANOS).quantize(QUANTUM)


def multiplier(entry: ModelEntry) -> Decimal:
    """AWS bills geographic and global cross-region profiles differently from in-region calls."""
    if entry.price is None:
        return Decimal(1)
    if entry.profile_type == "geo":
        return entry.price.geo_multiplier
    if entry.profile_type == "global":
        return entry.price.global_multiplier
    return Decimal(1)


def _tokens(bedrock_usage: dict, key: str) -> int:
    value = bedrock_usage.get(key) or 0
    return max(0, int(value))


def _bucket_price(price: Price | None, bucket: str) -> Decimal | None:
    return None if price is None else getattr(price, bucket)


def cost(entry: ModelEntry, bedrock_usage: dict) -> CostResult:
    """Price Bedrock's reported usage; buckets with tokens but no price make the result unpriced."""
    mult = multiplier(entry)
    breakdown: dict[str, Decimal] = {}
    missing: list[str] = []
    for bucket, key in BUCKETS:
        tokens = _tokens(bedrock_usage, key)
        if not tokens:
            continue
        price = _bucket_price(entry.price, bucket)
        if price is None:
            missing.append(bucket)
            continue
        breakdown[bucket] = Decimal(tokens) * price / _THOUSAND * mult
    total = sum(breakdown.values(), Decimal(0)).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
    if missing:
        # Bounded like the metrics' model labels: raw ids let clients mint names.
        label = entry.alias if entry.alias in missing_price_total or len(missing_price_total) < 200 else "_other"
        missing_price_total[label] += 1
        log.warning("missing price: model=%s bedrock_id=%s buckets=%s (cost understated)",
                    entry.alias, entry.bedrock_id, ",".join(missing))
    return CostResult(cost_usd=total, priced=not missing, breakdown=breakdown)


def worst_case_cost(entry: ModelEntry, prompt_tokens_estimate: int, max_tokens: int) -> Decimal:
    """Budget reservation: every prompt token at the input price plus max_tokens of output.

    Rounded up so a reservation is never below the real cost. An unpriced model reserves 0
    (its real cost is unknown too; the missing-price alert fires when it is used).
    """
    price = entry.price
    if price is None:
        return Decimal(0)
    raw = (Decimal(max(0, prompt_tokens_estimate)) * price.input
           + Decimal(max(0, max_tokens)) * price.output) / _THOUSAND * multiplier(entry)
    return raw.quantize(QUANTUM, rounding=ROUND_UP)


def cost_headers(result: CostResult, latency_ms: float | int) -> dict[str, str]:
    """Response headers so streaming clients see the cost too (x-gateway-cost-usd is exact, 9 dp)."""
    headers = {
        "x-gateway-cost-usd": format(result.cost_usd.quantize(QUANTUM), "f"),
        "x-gateway-latency-ms": str(int(latency_ms)),
    }
    if not result.priced:
        headers["x-gateway-cost-priced"] = "false"
    return headers
