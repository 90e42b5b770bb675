"""Cost of one call from the catalog's per-bucket prices and neutral usage (pure; Decimal only, never floats).

Cost = Σ tokens(bucket) × price(bucket) / 1000, × the profile multiplier (geo / global), rounded
once at the end to 1e-9 USD (half-even). A missing price is flagged (priced=False, the buckets in
``missing``), never $0 silently; the call's books (proxy/pipeline/books.py) log and count it, once per call.
``entry.price`` is already the price of the region the call is billed in: ModelCatalog is built for
AWS_REGION and resolves ``Price.for_region`` (model × region here, × profile type via the multiplier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal

from proxy.catalog.catalog import ModelEntry, Price
from proxy.usage.money import QUANTUM, to_nanos
from translators.usage import Usage

_THOUSAND = Decimal(1000)

# (price attribute, Usage attribute) in billing order.
BUCKETS: tuple[tuple[str, str], ...] = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache_read", "cache_read_tokens"),
    ("cache_write", "cache_write_tokens"),
)


@dataclass(frozen=True)
class CostResult:
    cost_usd: Decimal
    priced: bool
    breakdown: dict[str, Decimal] = field(default_factory=dict)  # bucket -> USD (before rounding)
    missing: tuple[str, ...] = ()  # buckets that had tokens but no price

    @property
    def cost_nanos(self) -> int:
        return to_nanos(self.cost_usd)


def multiplier(entry: ModelEntry) -> Decimal:
    """AWS bills geographic and global cross-region profiles differently from in-region calls."""
    if entry.price is None:
        return Decimal(1)
    if entry.profile_type == "geo":
        return entry.price.geo_multiplier
    if entry.profile_type == "global":
        return entry.price.global_multiplier
    return Decimal(1)


def _bucket_price(price: Price | None, bucket: str) -> Decimal | None:
    return None if price is None else getattr(price, bucket)


def cost(entry: ModelEntry, usage: Usage) -> CostResult:
    """Price the reported usage; buckets with tokens but no price make the result unpriced."""
    mult = multiplier(entry)
    breakdown: dict[str, Decimal] = {}
    missing: list[str] = []
    for bucket, attribute in BUCKETS:
        tokens = getattr(usage, attribute)
        if not tokens:
            continue
        price = _bucket_price(entry.price, bucket)
        if price is None:
            missing.append(bucket)
            continue
        breakdown[bucket] = Decimal(tokens) * price / _THOUSAND * mult
    total = sum(breakdown.values(), Decimal(0)).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
    if entry.fallback_priced:  # charged at the operator's stand-in price: counted, but never called exact
        missing = [bucket for bucket, attribute in BUCKETS if getattr(usage, attribute)] or ["input"]
    return CostResult(cost_usd=total, priced=not missing, breakdown=breakdown, missing=tuple(missing))


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
