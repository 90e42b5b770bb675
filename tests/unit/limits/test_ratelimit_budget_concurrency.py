"""Concurrency slots and budget reservations: release on settle, safety TTL, seeding, overshoot bound."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from proxy.auth.principal import Limits, Principal
from proxy.errors import QuotaExceeded, RateLimited, UpstreamUnavailable
from tests.unit.limits.support import Factory, FakeClock

ZERO = Decimal(0)
PERIOD = "2023-11"  # the month of conftest.T0


def principal(**kw: object) -> Principal:
    fields: dict[str, object] = {"team_id": "t1", "team_name": "acme", "key_id": "k1"}
    fields["team_limits"] = Limits()
    return Principal(**{**fields, **kw})  # type: ignore[arg-type]


async def test_concurrency_slot_released_on_settle(make: Factory) -> None:
    limiter, who = make(), principal(team_limits=Limits(max_concurrency=2))
    first = await limiter.admit(who, tokens=1, cost_usd=ZERO)
    await limiter.admit(who, tokens=1, cost_usd=ZERO)
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    assert exc.value.type == "requests" and "concurrent requests on team acme: Limit 2" in exc.value.message
    assert exc.value.headers["retry-after"] == "1"
    await first.settle(tokens=1, cost_usd=ZERO)
    await first.settle(tokens=1, cost_usd=ZERO)  # idempotent: frees one slot, not two
    await limiter.admit(who, tokens=1, cost_usd=ZERO)
    with pytest.raises(RateLimited):
        await limiter.admit(who, tokens=1, cost_usd=ZERO)


async def test_key_concurrency_and_leaked_slot_expiry(make: Factory, clock: FakeClock) -> None:
    limiter, who = make(inflight_ttl_s=30), principal(key_limits=Limits(max_concurrency=1))
    await limiter.admit(who, tokens=1, cost_usd=ZERO)  # never settled: a crashed replica
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    assert "on key k1" in exc.value.message
    clock.advance(30)
    await limiter.admit(who, tokens=1, cost_usd=ZERO)


async def test_budget_reserve_and_reconcile(make: Factory) -> None:
    limiter, who = make(), principal(team_budget_usd=Decimal("1.00"))
    reservation = Decimal("0.40")
    a = await limiter.admit(who, tokens=1, cost_usd=reservation)
    await limiter.admit(who, tokens=1, cost_usd=reservation)
    await limiter.admit(who, tokens=1, cost_usd=reservation)  # 0.80 < 1.00: admitted, may overshoot
    with pytest.raises(QuotaExceeded) as exc:
        await limiter.admit(who, tokens=1, cost_usd=reservation)
    err = exc.value
    assert err.status == 429 and err.type == "insufficient_quota" and err.code == "insufficient_quota"
    assert err.message.startswith("You exceeded your current quota")
    assert "$1 on team acme for 2023-11" in err.message
    await a.settle(tokens=1, cost_usd=Decimal("0.1"))
    assert await limiter.spent("t1", PERIOD) == Decimal("0.1")
    await limiter.admit(who, tokens=1, cost_usd=reservation)  # 0.1 spent + 0.8 reserved < 1


async def test_key_budget(make: Factory) -> None:
    limiter, who = make(), principal(team_budget_usd=Decimal(100), key_budget_usd=Decimal("0.5"))
    first = await limiter.admit(who, tokens=1, cost_usd=Decimal("0.5"))
    with pytest.raises(QuotaExceeded) as exc:
        await limiter.admit(who, tokens=1, cost_usd=Decimal("0.01"))
    assert "on key k1" in exc.value.message
    await first.settle(tokens=1, cost_usd=Decimal("0.2"))
    await limiter.admit(who, tokens=1, cost_usd=Decimal("0.01"))
    assert await limiter.spent("t1", PERIOD) == Decimal("0.2")


async def test_unsettled_reservation_expires(make: Factory, clock: FakeClock) -> None:
    limiter, who = make(inflight_ttl_s=60), principal(team_budget_usd=Decimal(1))
    late = await limiter.admit(who, tokens=1, cost_usd=Decimal(1))
    with pytest.raises(QuotaExceeded):
        await limiter.admit(who, tokens=1, cost_usd=Decimal("0.1"))
    clock.advance(60)
    await limiter.admit(who, tokens=1, cost_usd=Decimal("0.1"))
    await late.settle(tokens=1, cost_usd=Decimal("0.3"))  # after its TTL: spend counted, no double release
    assert await limiter.spent("t1", PERIOD) == Decimal("0.3")


async def test_budget_seed_called_once_for_concurrent_requests(make: Factory) -> None:
    calls: list[tuple[str, str]] = []

    async def seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        calls.append((team_id, period))
        await asyncio.sleep(0.01)
        return Decimal("0.99")

    limiter, who = make(budget_seed=seed), principal(team_budget_usd=Decimal(1))
    results = await asyncio.gather(
        *(limiter.admit(who, tokens=1, cost_usd=Decimal("0.05")) for _ in range(20)), return_exceptions=True
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    assert len(admitted) == 1 and all(isinstance(r, QuotaExceeded) for r in results if r not in admitted)
    assert calls == [("t1", PERIOD)]
    assert await limiter.spent("t1", PERIOD) == Decimal("0.99")


async def test_key_budget_is_seeded_from_the_usage_store(make: Factory) -> None:
    # A restart of the in-process limiter, or Redis losing its data, must not hand a key a fresh budget.
    calls: list[tuple[str, str, str | None]] = []

    async def seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        calls.append((team_id, period, key_id))
        return Decimal("0.45") if key_id == "k1" else Decimal("2")

    limiter = make(budget_seed=seed)
    who = principal(team_budget_usd=Decimal(100), key_budget_usd=Decimal("0.5"))
    first = await limiter.admit(who, tokens=1, cost_usd=Decimal("0.1"))  # 0.45 spent < 0.5: admitted
    with pytest.raises(QuotaExceeded) as exc:
        await limiter.admit(who, tokens=1, cost_usd=Decimal("0.01"))  # 0.45 + 0.1 reserved
    assert "The monthly budget of $0.5 on key k1 for 2023-11 is spent." in exc.value.message
    await first.settle(tokens=1, cost_usd=Decimal("0.04"))  # 0.49 spent: a little is left
    await limiter.admit(who, tokens=1, cost_usd=Decimal("0.01"))
    assert set(calls) == {("t1", PERIOD, None), ("t1", PERIOD, "k1")} and len(calls) == 2
    assert await limiter.spent("t1", PERIOD) == Decimal("2.04")
    # A key without a budget of its own is never looked up.
    await limiter.admit(principal(key_id="k2", team_budget_usd=Decimal(100)), tokens=1, cost_usd=ZERO)
    assert len(calls) == 2


async def test_budget_seed_failure_is_503(make: Factory) -> None:
    async def seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        raise OSError("usage store down")

    limiter = make(budget_seed=seed)
    with pytest.raises(UpstreamUnavailable):
        await limiter.admit(principal(team_budget_usd=Decimal(1)), tokens=1, cost_usd=ZERO)


async def test_concurrent_burst_overshoots_by_at_most_one_reservation(make: Factory) -> None:
    limiter, who = make(), principal(team_budget_usd=Decimal("10"))
    reservation, real = Decimal("0.02"), Decimal("0.015")
    base = await limiter.admit(who, tokens=1, cost_usd=Decimal("9.95"))
    await base.settle(tokens=1, cost_usd=Decimal("9.95"))

    async def one() -> bool:
        try:
            admission = await limiter.admit(who, tokens=1, cost_usd=reservation)
        except QuotaExceeded:
            return False
        await asyncio.sleep(0)
        await admission.settle(tokens=1, cost_usd=real)
        return True

    outcomes = await asyncio.gather(*(one() for _ in range(200)))
    spent = await limiter.spent("t1", PERIOD)
    assert sum(outcomes) >= 3
    assert spent == Decimal("9.95") + real * sum(outcomes)
    assert spent <= Decimal(10) + reservation


async def test_a_seed_is_reused_for_a_burst_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Soak finding: a $0 seed cached for 30 s let a team spend 14 % over budget after a Redis restart."""
    from proxy.limits import local

    now = [1000.0]
    monkeypatch.setattr(local.time, "monotonic", lambda: now[0])
    spent = [Decimal("0")]
    calls = []

    async def seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        calls.append(period)
        return spent[0]

    cache = local.SeedCache(seed)
    assert await cache.nano("t", "2026-12") == 0
    spent[0] = Decimal("0.5")
    now[0] += 0.5
    assert await cache.nano("t", "2026-12") == 0 and len(calls) == 1  # the same burst: one store query
    now[0] += local.SeedCache.REUSE_S
    assert await cache.nano("t", "2026-12") == 500_000_000 and len(calls) == 2  # later: the store again
