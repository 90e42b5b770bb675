"""Admission control before Bedrock: RPM, TPM, concurrency and budget, per team and per key.

One Redis Lua script (ratelimit.lua) checks and updates everything for a request in one round trip;
without REDIS_URL the same algorithm runs in process (ratelimit_local). Redis failures follow
LLM_GATEWAY_RATELIMIT_FAILURE_POLICY: "open" falls back to the in-process limiter, "closed" answers 503.
On a Redis Cluster the outage state is kept per master (proxy/limits/cluster.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import RedisClusterException, RedisError

from proxy.auth.principal import Principal
from proxy.errors import Overloaded, UpstreamUnavailable
from proxy.limits.cluster import SINGLE, Script, Shard, shard_of
from proxy.limits.local import DEFAULT_INFLIGHT_TTL_S, BudgetSeed, Clock, LocalLimiter, SeedCache
from proxy.limits.plan import (
    ADMITTED,
    BUCKET_MS,
    NOW,
    SEED_NEEDED,
    STATUS,
    WINDOW_MS,
    Admission,
    Plan,
    build_plan,
    hash_tag,
    headers_for,
    keys_for,
    nano_to_usd,
    rejection,
    usd_to_nano,
)
from proxy.limits.settle import SettleBatcher

if TYPE_CHECKING:
    from proxy.limits.cluster import RedisClient

logger = logging.getLogger(__name__)

BUDGET_TTL_MS = 62 * 24 * 3600 * 1000  # a period's budget keys outlive the month, for spent() reads
# RedisClusterException (no slot table, slot not covered) is not a RedisError.
REDIS_FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError)

__all__ = ["Admission", "Limiter", "LocalLimiter", "RedisLimiter"]


class Limiter(Protocol):
    async def admit(self, principal: Principal, *, tokens: int, cost_usd: Decimal) -> Admission: ...
    async def spent(self, team_id: str, period: str) -> Decimal: ...
    async def close(self) -> None: ...


@functools.cache
def _lua_source() -> str:
    return importlib.resources.files("proxy.limits").joinpath("ratelimit.lua").read_text(encoding="utf-8")


def _limit(value: int | None) -> int:
    return -1 if value is None else value


class LocalOverload(Exception):
    """Redis is answering, but this process fell behind (event-loop backlog or a full admission queue)."""

    def __init__(self, *, maybe_ran: bool) -> None:
        super().__init__("local overload")
        self.maybe_ran = maybe_ran  # the script may have run in Redis (its answer came too late)


class RedisLimiter:
    """Limits shared by every replica through one Redis; fails open or closed per policy."""

    def __init__(
        self,
        client: RedisClient,
        *,
        timeout_ms: int = 1000,
        policy: str = "open",
        budget_seed: BudgetSeed | None = None,
        clock: Clock | None = None,
        inflight_ttl_s: float = DEFAULT_INFLIGHT_TTL_S,
        backoff_s: float = 1.0,
        owns_client: bool = False,
        admission_slots: int = 56,
        queue_timeout_s: float = 10.0,
    ) -> None:
        self._redis = client
        self._script = Script(client, _lua_source())  # EVALSHA, EVAL again on NOSCRIPT
        self._settles = SettleBatcher(client, self._script, timeout_s=timeout_ms / 1000,
                                      failures=REDIS_FAILURES, on_failure=self._settle_failed,
                                      on_success=self._replied)
        self._timeout_s = timeout_ms / 1000
        self._policy = policy
        self._clock = clock
        self._ttl_ms = int(inflight_ttl_s * 1000)
        self._seeded_by_callback = budget_seed is not None
        self._seeds = SeedCache(budget_seed)
        self._local = LocalLimiter(budget_seed=budget_seed, clock=clock, inflight_ttl_s=inflight_ttl_s)
        self._backoff_s = backoff_s
        self._owns_client = owns_client
        self._shards: dict[str, Shard] = {}  # one per cluster master (one only for a single Redis)
        self.fallback_count = 0  # admissions answered by the in-process limiter (metric)
        self.overload_count = 0  # admissions refused (503) because this process, not Redis, was behind
        # Admissions in flight to Redis are bounded below the pool size (settles and the auth listener
        # need connections too); the rest queue here, and their wait is not a Redis timeout.
        self._slots = asyncio.Semaphore(admission_slots)
        self._queue_timeout_s = queue_timeout_s
        self._background: set[asyncio.Task[None]] = set()

    def _now_ms(self) -> int:
        return int((self._clock or time.time)() * 1000)

    def _shard(self, key: str) -> tuple[str, Shard]:
        """The Redis serving `key` (any key under a team's hash tag) and our view of it."""
        name = shard_of(self._redis, key)
        return name, self._shards.setdefault(name, Shard())

    async def admit(self, principal: Principal, *, tokens: int, cost_usd: Decimal) -> Admission:
        plan = build_plan(principal, tokens=tokens, cost_usd=cost_usd, now_ms=self._now_ms())
        name, shard = self._shard(hash_tag(plan.team_id))
        if shard.down:
            if time.monotonic() < shard.retry_at:
                return await self._unavailable(plan)
            shard.retry_at = time.monotonic() + self._backoff_s  # one probe per back-off, not a stampede
        try:
            state = await self._admit_in_redis(plan)
        except LocalOverload as exc:
            # Redis answers other calls: the delay is our own backlog. Per-process limits would stop
            # enforcing shared limits exactly when traffic peaks; a 503 the SDK retries does not.
            self.overload_count += 1
            if exc.maybe_ran:
                self._cancel_in_background(plan, name)
            raise Overloaded("The gateway is overloaded right now; retry shortly.") from None
        except REDIS_FAILURES as exc:
            self._mark_down(name, exc)
            self._cancel_in_background(plan, name)
            return await self._unavailable(plan)
        self._mark_up(name)
        if state[STATUS] != ADMITTED:
            raise rejection(plan, state)
        return Admission(plan, headers_for(plan, state), functools.partial(self._settle, plan, state[NOW]))

    async def _admit_in_redis(self, plan: Plan) -> list[int]:
        keys = keys_for(plan)
        unknown = "" if self._seeded_by_callback else "0"
        state = await self._call(keys, self._args(plan, "admit", seeds=(unknown, unknown)))
        if state[STATUS] == SEED_NEEDED:
            # A budget hash is missing (new period, or Redis lost its data): initialise the team's and the
            # key's from the usage store, both at once (the script asks for the first one missing).
            team_seed, key_seed = await asyncio.gather(
                self._seed_arg(plan, None, 0), self._seed_arg(plan, plan.key_id, 1))
            state = await self._call(keys, self._args(plan, "admit", seeds=(team_seed, key_seed)))
        return state

    async def _seed_arg(self, plan: Plan, key_id: str | None, level: int) -> str:
        if plan.budgets_nano[level] is None:
            return "0"  # that level has no budget: the script does not read its seed
        return str(await self._seeds.nano(plan.team_id, plan.period, key_id))

    async def _settle(self, plan: Plan, admitted_ms: int, tokens: int, cost_usd: Decimal) -> None:
        name, shard = self._shard(hash_tag(plan.team_id))
        if shard.down and time.monotonic() < shard.retry_at:
            return  # no connect timeout per settle during an outage: the in-flight TTL frees the slot
        args = self._args(plan, "settle", diff=tokens - plan.tokens, real_nano=usd_to_nano(cost_usd),
                          admitted_ms=admitted_ms)
        await self._settles.settle(name, keys_for(plan), args)

    def _cancel_in_background(self, plan: Plan, shard: str) -> None:
        """Undo an admission whose answer was lost: a timed-out script may still have run in Redis.

        Its concurrency slot and budget reservation would otherwise be held for the in-flight TTL
        (15 min), on top of the fallback's own admission. Removing them is exact and safe when the
        script never ran (ZREM of an absent member changes nothing): a settle with no token difference,
        no cost, and an admission time outside every window (so no TPM refund). The phantom RPM/TPM
        charge, if any, stays and slides out within 60 s.
        """
        if not any(v is not None for v in (*plan.concurrency, *plan.budgets_nano)):
            return
        args = self._args(plan, "settle", diff=0, real_nano=0, admitted_ms=0)
        task = asyncio.create_task(self._settles.settle(shard, keys_for(plan), args))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _call(self, keys: list[str], args: list[Any]) -> list[int]:
        """One script call; the timeout covers the round trip only, never the wait for a slot."""
        _, shard = self._shard(keys[0])
        if self._slots.locked():
            try:
                async with asyncio.timeout(self._queue_timeout_s):
                    await self._slots.acquire()
            except TimeoutError:
                raise LocalOverload(maybe_ran=False) from None
        else:
            await self._slots.acquire()  # free: returns without suspending
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await self._script(keys=keys, args=args)
        except TimeoutError:
            if shard.last_reply > started:  # this Redis answered someone while we waited: it is alive
                raise LocalOverload(maybe_ran=True) from None
            raise
        finally:
            self._slots.release()
        shard.last_reply = time.monotonic()
        return [int(v) for v in result]

    def _replied(self, name: str) -> None:
        self._shards.setdefault(name, Shard()).last_reply = time.monotonic()

    def _settle_failed(self, name: str, exc: BaseException, started: float) -> None:
        if isinstance(exc, TimeoutError) and self._shards.setdefault(name, Shard()).last_reply > started:
            return  # a batch late for our own backlog; the in-flight TTL covers a lost settle
        self._mark_down(name, exc)

    def _args(
        self, plan: Plan, mode: str, *, seeds: tuple[str, str] = ("0", "0"), diff: int = 0, real_nano: int = 0,
        admitted_ms: int = 0,
    ) -> list[Any]:
        now = "" if self._clock is None else self._now_ms()  # "" = Redis TIME, one clock for all replicas
        return [
            mode, now, WINDOW_MS,
            *map(_limit, plan.rate_limits), *map(_limit, plan.concurrency), *map(_limit, plan.budgets_nano),
            plan.tokens, plan.reservation_nano, plan.token, self._ttl_ms,
            *seeds, BUDGET_TTL_MS, diff, real_nano, admitted_ms, BUCKET_MS,
        ]  # fmt: skip

    async def _unavailable(self, plan: Plan) -> Admission:
        if self._policy == "closed":
            raise UpstreamUnavailable("rate limiter unavailable")
        self.fallback_count += 1
        return await self._local.admit_plan(plan, fallback=True)

    def _mark_down(self, name: str, exc: BaseException) -> None:
        shard = self._shards.setdefault(name, Shard())
        if not shard.down:
            logger.warning(
                "Redis rate limiter unavailable%s (%s: %s); policy=%s until it answers again",
                f" on {name}" if name != SINGLE else "", type(exc).__name__, exc, self._policy,
            )
            # Idle pooled connections are dead too if Redis went away: without this, each one fails
            # once after Redis is back, and every failure means another second of per-process limits.
            task = asyncio.ensure_future(self._drop_idle_connections())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        shard.down = True
        shard.retry_at = time.monotonic() + self._backoff_s

    async def _drop_idle_connections(self) -> None:
        # A RedisCluster has no pool: it drops a failed node's idle connections itself.
        pool = getattr(self._redis, "connection_pool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.disconnect(inuse_connections=False)

    def _mark_up(self, name: str) -> None:
        shard = self._shards[name]
        if shard.down:
            logger.warning("Redis rate limiter available again%s (fallback admissions so far: %d)",
                           f" on {name}" if name != SINGLE else "", self.fallback_count)
        shard.down = False

    async def spent(self, team_id: str, period: str) -> Decimal:
        """Spend recorded this period (settled requests), for the usage and alert code."""
        try:
            async with asyncio.timeout(self._timeout_s):
                value = await self._redis.hget(f"bud:{hash_tag(team_id)}:{period}", "spent")
        except REDIS_FAILURES as exc:
            raise UpstreamUnavailable("rate limiter unavailable") from exc
        return nano_to_usd(int(value or 0))

    async def close(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=self._timeout_s * 2)
        await self._settles.close()
        if self._owns_client:
            await self._redis.aclose()
