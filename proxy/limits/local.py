"""The in-process twin of ratelimit.lua: same keys, same integer arithmetic, same state vector.

Exact for one process: admit/settle run without awaiting between check and update, so asyncio tasks
cannot interleave. Used when REDIS_URL is unset, and as the fail-open fallback while Redis is down.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from proxy.auth.principal import Principal
from proxy.errors import UpstreamUnavailable
from proxy.limits.plan import (
    ADMITTED,
    BUCKET_MS,
    NOW,
    STATE_LENGTH,
    STATUS,
    WINDOW_MS,
    Admission,
    Plan,
    build_plan,
    headers_for,
    keys_for,
    nano_to_usd,
    rejection,
    usd_to_nano,
)

# budget_seed(team_id, period, key_id): spend so far this period per the usage store; key_id None = team.
BudgetSeed = Callable[[str, str, str | None], Awaitable[Decimal]]
Clock = Callable[[], float]
DEFAULT_INFLIGHT_TTL_S = 900.0


class SeedCache:
    """budget_seed with single flight: one call per (team, period, key) at a time, its answer reused a while.

    Redis asks for a seed only when its budget hash is missing (new period, Redis lost its data); a burst
    of requests seeing that together must cost the usage store one query, not one each. The answer is
    reused only for that burst: spend keeps accruing after it, so a seed reused for long understates the
    month (the soak found a Redis restart 14 s after a cached $0 seed let a team spend 14 % over its
    budget with 30 s here; benchmarks/soak.py).
    """

    REUSE_S = 1.0

    def __init__(self, budget_seed: BudgetSeed | None) -> None:
        self._seed = budget_seed
        self._pending: dict[tuple[str, str, str | None], asyncio.Future[Decimal]] = {}
        self._answers: dict[tuple[str, str, str | None], tuple[int, float]] = {}  # nano-USD, monotonic()

    async def nano(self, team_id: str, period: str, key_id: str | None = None) -> int:
        if self._seed is None:
            return 0
        slot = (team_id, period, key_id)
        answer = self._answers.get(slot)
        if answer is not None and time.monotonic() - answer[1] < self.REUSE_S:
            return answer[0]
        future = self._pending.get(slot)
        if future is None:
            future = asyncio.ensure_future(self._seed(team_id, period, key_id))
            self._pending[slot] = future
            future.add_done_callback(functools.partial(self._settled, slot))
        try:
            return usd_to_nano(await asyncio.shield(future))
        except Exception as exc:
            # Seeding with 0 would forget a month of spend; refusing is the safe side.
            raise UpstreamUnavailable("budget state unavailable") from exc

    def _settled(self, slot: tuple[str, str, str | None], future: asyncio.Future[Decimal]) -> None:
        # One callback does both, so no caller can see neither the pending call nor its answer.
        self._pending.pop(slot, None)
        if not future.cancelled() and future.exception() is None:
            self._answers[slot] = (usd_to_nano(future.result()), time.monotonic())


class Buckets:
    """One rate key of ratelimit.lua: usage per 1-second bucket over the last WINDOW_MS, and their total."""

    SPAN = WINDOW_MS // BUCKET_MS  # a request at bucket b counts buckets b - SPAN .. b

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}  # bucket index -> units; insertion order = time order
        self.latest: dict[int, int] = {}  # bucket index -> time (ms) of its newest request
        self.total = 0
        self.newest: int | None = None

    def evict(self, oldest_counted: int, now: int) -> bool:
        """Drop buckets that left the window; False when nothing is left (the caller starts afresh)."""
        if self.newest is None or self.newest < oldest_counted:
            return False
        for index in [b for b in self.counts if b < oldest_counted]:
            self._drop(index)
        # The oldest counted bucket straddles the window's edge: gone once its newest request is W old,
        # so a client pacing at the limit is never refused (ratelimit.lua does the same).
        if oldest_counted in self.counts and self.leaves_ms(oldest_counted, now) <= 0:
            self._drop(oldest_counted)
            if self.newest == oldest_counted:
                return False
        return True

    def _drop(self, index: int) -> None:
        self.total -= self.counts.pop(index)
        self.latest.pop(index, None)

    def leaves_ms(self, index: int, now: int) -> int:
        return self.latest[index] + WINDOW_MS - now

    def add(self, now: int, amount: int) -> None:
        index = now // BUCKET_MS
        self.counts[index] = self.counts.get(index, 0) + amount
        self.latest[index] = max(self.latest.get(index, 0), now)
        self.total += amount
        self.newest = index

    def refund(self, index: int, amount: int) -> None:
        refund = min(amount, self.counts.get(index, 0))
        if refund > 0:
            self.counts[index] -= refund
            self.total -= refund

    def reset_ms(self, now: int) -> int:
        if self.total <= 0 or self.newest is None:
            return 0
        return self.leaves_ms(self.newest, now)

    def retry_ms(self, now: int, limit: int, cost: int) -> int:
        """When the oldest buckets will have freed enough for cost to fit (-1: never, cost > limit)."""
        if cost > limit:
            return -1
        need, freed = self.total + cost - limit, 0
        for index in sorted(self.counts):
            freed += self.counts[index]
            if freed >= need:
                return self.leaves_ms(index, now)
        return self.reset_ms(now)


class LocalLimiter:
    """Limiter protocol implemented in process memory."""

    def __init__(
        self, *, budget_seed: BudgetSeed | None = None, clock: Clock | None = None,
        inflight_ttl_s: float = DEFAULT_INFLIGHT_TTL_S,
    ) -> None:
        self._clock = clock or time.time
        self._seeds = SeedCache(budget_seed)
        self._ttl_ms = int(inflight_ttl_s * 1000)
        self._windows: dict[str, Buckets] = {}
        self._inflight: dict[str, dict[str, int]] = {}  # key -> member -> expiry ms
        self._budgets: dict[str, dict[str, int]] = {}  # key -> spent / reserved / seeded

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def admit(self, principal: Principal, *, tokens: int, cost_usd: Decimal) -> Admission:
        plan = build_plan(principal, tokens=tokens, cost_usd=cost_usd, now_ms=self.now_ms())
        return await self.admit_plan(plan)

    async def admit_plan(self, plan: Plan, *, fallback: bool = False) -> Admission:
        keys = keys_for(plan)
        for level in (0, 1):
            budget_key = keys[6 + 2 * level]
            if plan.budgets_nano[level] is not None and not self._budget(budget_key).get("seeded"):
                seed = await self._seeds.nano(plan.team_id, plan.period, None if level == 0 else plan.key_id)
                self._seed_budget(budget_key, seed)
        state = self.run_admit(plan, keys, self.now_ms())
        if state[STATUS] != ADMITTED:
            raise rejection(plan, state)

        async def settle(tokens: int, cost_usd: Decimal) -> None:
            self.run_settle(plan, keys, self.now_ms(), tokens - plan.tokens, usd_to_nano(cost_usd), state[NOW])

        return Admission(plan, headers_for(plan, state), settle, fallback=fallback)

    async def spent(self, team_id: str, period: str) -> Decimal:
        return nano_to_usd(self._budgets.get(f"bud:{{team:{team_id}}}:{period}", {}).get("spent", 0))

    async def close(self) -> None:
        return None

    # --- the twin of ratelimit.lua ------------------------------------------------------------------
    def _budget(self, key: str) -> dict[str, int]:
        return self._budgets.setdefault(key, {"spent": 0, "reserved": 0})

    def _seed_budget(self, key: str, seed: int) -> None:
        budget = self._budget(key)
        if not budget.get("seeded"):  # re-checked: another task may have seeded during our await
            budget["spent"] += seed
            budget["seeded"] = 1

    def _buckets(self, key: str, now: int) -> Buckets:
        buckets = self._windows.get(key)
        if buckets is None or not buckets.evict(now // BUCKET_MS - WINDOW_MS // BUCKET_MS, now):
            buckets = self._windows[key] = Buckets()
        return buckets

    def _live(self, key: str, now: int) -> dict[str, int]:
        members = self._inflight.setdefault(key, {})
        for member in [m for m, expiry in members.items() if expiry <= now]:
            del members[member]
        return members

    def _release_expired(self, budget_key: str, zset_key: str, now: int) -> None:
        members = self._inflight.get(zset_key, {})
        stale = [m for m, expiry in members.items() if expiry <= now]
        budget = self._budget(budget_key)
        for member in stale:
            del members[member]
            budget["reserved"] = max(0, budget["reserved"] - int(member.rsplit(":", 1)[1]))

    def run_admit(self, plan: Plan, keys: list[str], now: int) -> list[int]:
        out = [0, 0, now] + [0] * (STATE_LENGTH - 3)
        rate_ok = True
        for i, limit in enumerate(plan.rate_limits):
            if limit is not None:
                buckets, cost = self._buckets(keys[i], now), plan.cost(i)
                out[3 + 3 * i], out[5 + 3 * i] = buckets.total, buckets.reset_ms(now)
                if buckets.total + cost > limit:
                    rate_ok = False
                    out[4 + 3 * i] = buckets.retry_ms(now, limit, cost)
        for level in (0, 1):
            if plan.concurrency[level] is not None:
                out[15 + level] = len(self._live(keys[4 + level], now))
            if plan.budgets_nano[level] is not None:
                self._release_expired(keys[6 + 2 * level], keys[7 + 2 * level], now)
                budget = self._budget(keys[6 + 2 * level])
                out[17 + 2 * level], out[18 + 2 * level] = budget["spent"], budget["reserved"]
        verdict = self._verdict(plan, out, rate_ok)
        if verdict is not None:
            out[0], out[1] = verdict
            return out
        self._apply(plan, keys, out, now)
        return out

    @staticmethod
    def _verdict(plan: Plan, out: list[int], rate_ok: bool) -> tuple[int, int] | None:
        if not rate_ok:
            return 1, 0
        for level in (0, 1):
            cap = plan.concurrency[level]
            if cap is not None and out[15 + level] >= cap:
                return 2, level + 1
        for level in (0, 1):
            budget = plan.budgets_nano[level]
            if budget is not None and out[17 + 2 * level] + out[18 + 2 * level] >= budget:
                return 3, level + 1
        return None

    def _apply(self, plan: Plan, keys: list[str], out: list[int], now: int) -> None:
        for i, limit in enumerate(plan.rate_limits):
            if limit is not None:
                buckets = self._windows[keys[i]]
                buckets.add(now, plan.cost(i))
                out[3 + 3 * i], out[5 + 3 * i] = buckets.total, buckets.reset_ms(now)
        expiry = now + self._ttl_ms
        for level in (0, 1):
            if plan.concurrency[level] is not None:
                self._inflight[keys[4 + level]][plan.token] = expiry
                out[15 + level] += 1
            if plan.budgets_nano[level] is not None:
                budget = self._budget(keys[6 + 2 * level])
                budget["reserved"] += plan.reservation_nano
                out[18 + 2 * level] = budget["reserved"]
                member = f"{plan.token}:{plan.reservation_nano}"
                self._inflight.setdefault(keys[7 + 2 * level], {})[member] = expiry

    def run_settle(
        self, plan: Plan, keys: list[str], now: int, diff: int, real_nano: int, admitted_ms: int
    ) -> None:
        for i in (2, 3):
            if plan.rate_limits[i] is not None and diff != 0:
                buckets = self._buckets(keys[i], now)
                if diff > 0:
                    buckets.add(now, diff)
                else:
                    buckets.refund(admitted_ms // BUCKET_MS, -diff)
        for level in (0, 1):
            if plan.concurrency[level] is not None:
                self._inflight.get(keys[4 + level], {}).pop(plan.token, None)
            if plan.budgets_nano[level] is not None:
                budget = self._budget(keys[6 + 2 * level])
                member = f"{plan.token}:{plan.reservation_nano}"
                if self._inflight.get(keys[7 + 2 * level], {}).pop(member, None) is not None:
                    budget["reserved"] = max(0, budget["reserved"] - plan.reservation_nano)
                budget["spent"] += real_nano

