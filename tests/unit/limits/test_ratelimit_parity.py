"""The Lua script and its in-process twin return identical state vectors on a random workload."""

from __future__ import annotations

import random
from decimal import Decimal

from proxy.auth.principal import Limits, Principal
from proxy.limits.plan import build_plan, keys_for, usd_to_nano
from proxy.limits.redis import LocalLimiter, RedisLimiter
from tests.unit.limits.support import T0, FakeClock, fake_redis


def random_principal(rng: random.Random) -> Principal:
    def maybe(lo: int, hi: int) -> int | None:
        return rng.choice([None, rng.randint(lo, hi)])

    return Principal(
        team_id=rng.choice(["a", "b"]), team_name="n", key_id=rng.choice(["k1", "k2"]),
        team_limits=Limits(maybe(1, 8), maybe(50, 400), maybe(1, 4)),
        key_limits=Limits(maybe(1, 8), maybe(50, 400), maybe(1, 4)),
        team_budget_usd=rng.choice([None, Decimal("0.5")]), key_budget_usd=rng.choice([None, Decimal("0.3")]),
    )


async def test_lua_and_local_agree_on_random_workload() -> None:
    rng, clock = random.Random(7), FakeClock(T0)
    local = LocalLimiter(clock=clock, inflight_ttl_s=20)
    lua = RedisLimiter(fake_redis(), clock=clock, inflight_ttl_s=20, owns_client=True)
    open_plans = []
    statuses: dict[int, int] = {}
    for step in range(1500):
        # Steps below, at and across a bucket (1 s) and the window (60 s), so eviction is partial too.
        clock.advance(rng.choice([0, 0, 0.001, 0.5, 0.999, 3, 17, 59.5, 61]))
        now = int(clock() * 1000)
        if open_plans and rng.random() < 0.4:
            plan, admitted_ms = open_plans.pop(rng.randrange(len(open_plans)))
            diff, real = rng.randint(-100, 200), usd_to_nano(Decimal(rng.randint(0, 90)) / 1000)
            local.run_settle(plan, keys_for(plan), now, diff, real, admitted_ms)
            args = lua._args(plan, "settle", diff=diff, real_nano=real, admitted_ms=admitted_ms)
            await lua._call(keys_for(plan), args)
            continue
        cost = Decimal(rng.randint(0, 100)) / 1000
        plan = build_plan(random_principal(rng), tokens=rng.randint(0, 120), cost_usd=cost, now_ms=now)
        expected = local.run_admit(plan, keys_for(plan), now)
        got = await lua._call(keys_for(plan), lua._args(plan, "admit"))
        assert got == expected, f"step {step}: {plan}"
        statuses[got[0]] = statuses.get(got[0], 0) + 1
        if got[0] == 0:
            open_plans.append((plan, now))
    await lua.close()
    assert set(statuses) == {0, 1, 2, 3}, statuses  # every verdict was exercised
