"""Money as the stores keep it: integer nano-USD, converted to and from Decimal USD in one place."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

QUANTUM = Decimal("1e-9")  # one nano-dollar: what the stores keep as integers
NANOS = Decimal(10) ** 9


def to_nanos(usd: Decimal) -> int:
    return int((usd * NANOS).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_nanos(nanos: int) -> Decimal:
    return (Decimal(nanos) / NANOS).quantize(QUANTUM)
