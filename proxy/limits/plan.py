"""What a limiter answer means to the client: the request's plan, x-ratelimit-* headers, 429 errors.

Pure (no I/O, no clock): both limiters (Lua in Redis, ratelimit_local in process) return the same state
vector, and this module turns it into headers, RateLimited or QuotaExceeded, so the two cannot diverge.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from proxy.auth.principal import Principal
from proxy.errors import QuotaExceeded, RateLimited
from proxy.ids import random_hex

logger = logging.getLogger(__name__)

WINDOW_MS = 60_000
BUCKET_MS = 100  # sliding-window granularity (each bucket keeps its count and its newest request: see ratelimit.lua)
NANO = Decimal(10) ** 9

# Positions in the state vector (see the return tuple documented in ratelimit.lua).
STATUS, DETAIL, NOW = 0, 1, 2
ADMITTED, RATE_FULL, CONCURRENCY_FULL, BUDGET_SPENT, SEED_NEEDED = 0, 1, 2, 3, 4
# Rate counters in KEYS order: (kind, level); used at 3 + 3*i, retry_ms at 4 + 3*i, reset_ms at 5 + 3*i.
COUNTERS = (("requests", 0), ("requests", 1), ("tokens", 0), ("tokens", 1))
INFLIGHT = (15, 16)
STATE_LENGTH = 21


def used_at(i: int) -> int:
    return 3 + 3 * i


def usd_to_nano(usd: Decimal, *, round_up: bool = False) -> int:
    """USD -> integer nano-USD; reservations round up so they never under-reserve."""
    return int((usd * NANO).to_integral_value(rounding=ROUND_CEILING if round_up else ROUND_HALF_EVEN))


def nano_to_usd(nano: int) -> Decimal:
    return Decimal(nano) / NANO


@dataclass(frozen=True)
class Plan:
    """Everything one admission checks; a limit of None is not checked (and its key not touched)."""

    team_id: str
    key_id: str
    labels: tuple[str, str]  # ("team acme", "key k_123") for messages
    rate_limits: tuple[int | None, int | None, int | None, int | None]  # rpm team, rpm key, tpm team, tpm key
    concurrency: tuple[int | None, int | None]
    budgets_nano: tuple[int | None, int | None]
    tokens: int
    reservation_nano: int
    period: str  # UTC calendar month, "YYYY-MM"
    token: str  # unique per admission

    def cost(self, counter: int) -> int:
        return 1 if COUNTERS[counter][0] == "requests" else self.tokens


def period_of(now_ms: int) -> str:
    """Budget period: the UTC calendar month."""
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m")


def build_plan(principal: Principal, *, tokens: int, cost_usd: Decimal, now_ms: int) -> Plan:
    team, key = principal.team_limits, principal.key_limits
    return Plan(
        team_id=principal.team_id,
        key_id=principal.key_id,
        labels=(f"team {principal.team_name or principal.team_id}", f"key {principal.key_id}"),
        rate_limits=(team.rpm, key.rpm, team.tpm, key.tpm),
        concurrency=(team.max_concurrency, key.max_concurrency),
        budgets_nano=(_nano_or_none(principal.team_budget_usd), _nano_or_none(principal.key_budget_usd)),
        tokens=max(0, int(tokens)),
        reservation_nano=max(0, usd_to_nano(cost_usd, round_up=True)),
        period=period_of(now_ms),
        token=random_hex(),
    )


def _nano_or_none(usd: Decimal | None) -> int | None:
    return None if usd is None else usd_to_nano(usd)


def hash_tag(team_id: str) -> str:
    """The part of every key of a team that Redis Cluster hashes: all of them share one slot."""
    return f"{{team:{team_id}}}"


def keys_for(plan: Plan) -> list[str]:
    """The ten keys of ratelimit.lua, all under the team's hash tag (one Redis Cluster slot)."""
    tag, key = hash_tag(plan.team_id), plan.key_id
    team_budget, key_budget = f"bud:{tag}:{plan.period}", f"bud:{tag}:key:{key}:{plan.period}"
    return [
        f"rl:{tag}:rpm:team", f"rl:{tag}:rpm:key:{key}", f"rl:{tag}:tpm:team", f"rl:{tag}:tpm:key:{key}",
        f"rl:{tag}:conc:team", f"rl:{tag}:conc:key:{key}",
        team_budget, f"{team_budget}:inflight", key_budget, f"{key_budget}:inflight",
    ]


SettleFn = Callable[[int, Decimal], Awaitable[None]]


class Admission:
    """An admitted request: its response headers, and settle() to call exactly once it is over."""

    def __init__(
        self, plan: Plan, headers: dict[str, str], settle: SettleFn, *, fallback: bool = False
    ) -> None:
        self.plan = plan
        self.headers = headers
        self.fallback = fallback  # admitted by the in-process limiter while Redis was unavailable
        self._settle = settle
        self._settled = False

    async def settle(self, *, tokens: int, cost_usd: Decimal) -> None:
        """Correct TPM to the real tokens, free the concurrency slot, reconcile the budget. Never raises."""
        if self._settled:
            return
        self._settled = True
        try:
            await self._settle(tokens, cost_usd)
        except Exception:
            # The slot and reservation then expire with the in-flight TTL; the request itself succeeded.
            logger.exception("rate limiter settle failed for team %s", self.plan.team_id)


def format_duration(ms: int) -> str:
    """OpenAI's style: "20ms", "1s", "1.5s", "6m0s"."""
    if ms < 1000:
        return f"{ms}ms"
    minutes, rest = divmod(ms, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def headers_for(plan: Plan, state: list[int]) -> dict[str, str]:
    """x-ratelimit-* for the stricter of team/key per kind; a kind with no limit at all is omitted."""
    headers: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        best: tuple[int, int, int] | None = None  # remaining, limit, reset
        for i, (counter_kind, _) in enumerate(COUNTERS):
            limit = plan.rate_limits[i]
            if counter_kind != kind or limit is None:
                continue
            used, reset = state[used_at(i)], state[used_at(i) + 2]
            candidate = (max(0, limit - used), limit, reset)
            if best is None or candidate[0] < best[0]:
                best = candidate
        if best is not None:
            headers[f"x-ratelimit-limit-{kind}"] = str(best[1])
            headers[f"x-ratelimit-remaining-{kind}"] = str(best[0])
            headers[f"x-ratelimit-reset-{kind}"] = format_duration(best[2])
    return headers


def rejection(plan: Plan, state: list[int]) -> RateLimited | QuotaExceeded:
    """The error for a rejected admission (status 1, 2 or 3), headers included."""
    headers = headers_for(plan, state)
    status, level = state[STATUS], state[DETAIL] - 1
    if status == CONCURRENCY_FULL:
        limit = plan.concurrency[level]
        message = (
            f"Too many concurrent requests on {plan.labels[level]}: Limit {limit}, "
            f"In flight {state[INFLIGHT[level]]}. Please try again in 1s."
        )
        # No window to compute from: a slot frees when any in-flight request ends.
        return RateLimited(message, retry_after_s=1.0, type="requests", headers=headers)
    if status == BUDGET_SPENT:
        budget = nano_to_usd(plan.budgets_nano[level] or 0)
        message = (
            "You exceeded your current quota, please check your plan and billing details. "
            f"The monthly budget of ${budget.normalize():f} on {plan.labels[level]} "
            f"for {plan.period} is spent."
        )
        return QuotaExceeded(message, headers=headers)
    return _rate_rejection(plan, state, headers)


def _rate_rejection(plan: Plan, state: list[int], headers: dict[str, str]) -> RateLimited:
    first: tuple[int, int, int] | None = None  # counter, limit, used
    wait = 0
    for i, (_, level) in enumerate(COUNTERS):
        limit = plan.rate_limits[i]
        used, cost = state[used_at(i)], plan.cost(i)
        if limit is None or used + cost <= limit:
            continue
        if cost > limit:
            return _too_large(plan, i, level, limit, headers)
        wait = max(wait, state[used_at(i) + 1])
        first = first or (i, limit, used)
    assert first is not None, "status 1 without a full window"
    i, limit, use = first
    kind, level = COUNTERS[i]
    unit = "requests per minute (RPM)" if kind == "requests" else "tokens per minute (TPM)"
    message = (
        f"Rate limit reached for {unit} on {plan.labels[level]}: Limit {limit}, Used {use}, "
        f"Requested {plan.cost(i)}. Please try again in {format_duration(wait)}."
    )
    return RateLimited(message, retry_after_s=wait / 1000, type=kind, headers=headers)


def _too_large(plan: Plan, i: int, level: int, limit: int, headers: dict[str, str]) -> RateLimited:
    # Waiting never helps, so no retry-after: the SDK's own back-off gives up after its retries.
    kind = COUNTERS[i][0]
    unit = "requests per minute (RPM)" if kind == "requests" else "tokens per minute (TPM)"
    message = (
        f"Request too large for {unit} on {plan.labels[level]}: Limit {limit}, Requested {plan.cost(i)}. "
        "The input or output tokens must be reduced in order to run successfully."
    )
    return RateLimited(message, type=kind, headers=headers)
