"""Redis down or slow: fail open to the in-process limiter or closed with 503; back-off; recovery."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from proxy.auth.principal import Limits, Principal
from proxy.errors import Overloaded, RateLimited, UpstreamUnavailable
from proxy.limits.redis import LocalLimiter, RedisLimiter
from proxy.services import create_limiter
from proxy.settings import Settings
from tests.unit.limits.support import FakeClock, fake_redis

WHO = Principal(team_id="t1", team_name="acme", key_id="k1", team_limits=Limits(rpm=5))
ZERO = Decimal(0)


class FlakyScript:
    """Wraps the registered script: `mode` = ok | down | slow | late (runs, answer lost); counts calls."""

    def __init__(self, real: Any) -> None:
        self.real, self.mode, self.calls = real, "ok", 0

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.mode == "down":
            raise RedisConnectionError("connection refused")
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "late":
            await self.real(**kwargs)
            await asyncio.sleep(5)
        return await self.real(**kwargs)


def flaky_limiter(policy: str, clock: FakeClock) -> tuple[RedisLimiter, FlakyScript]:
    limiter = RedisLimiter(
        fake_redis(), policy=policy, clock=clock, timeout_ms=200, backoff_s=0.2, owns_client=True
    )
    script = FlakyScript(limiter._script)
    limiter._script = script  # type: ignore[assignment]
    return limiter, script


async def test_fail_open_falls_back_then_recovers(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    limiter, script = flaky_limiter("open", clock)
    await limiter.admit(WHO, tokens=1, cost_usd=ZERO)
    script.mode = "down"
    with caplog.at_level(logging.WARNING, logger="proxy.limits.redis"):
        admissions = [await limiter.admit(WHO, tokens=1, cost_usd=ZERO) for _ in range(5)]
    assert all(a.fallback for a in admissions) and limiter.fallback_count == 5
    assert script.calls == 2  # one failure, then back-off: no Redis attempt per request
    assert sum("unavailable" in r.message for r in caplog.records) == 1  # once per outage
    with pytest.raises(RateLimited):  # the fallback limits too (5 RPM, in process)
        await limiter.admit(WHO, tokens=1, cost_usd=ZERO)
    await admissions[0].settle(tokens=1, cost_usd=ZERO)  # settles locally, no Redis call
    assert script.calls == 2
    script.mode = "ok"
    await asyncio.sleep(0.25)
    back = await limiter.admit(WHO, tokens=1, cost_usd=ZERO)
    assert not back.fallback and back.headers["x-ratelimit-remaining-requests"] == "3"
    await limiter.close()


async def test_fail_closed_is_503(clock: FakeClock) -> None:
    limiter, script = flaky_limiter("closed", clock)
    script.mode = "down"
    with pytest.raises(UpstreamUnavailable) as exc:
        await limiter.admit(WHO, tokens=1, cost_usd=ZERO)
    assert exc.value.status == 503 and exc.value.message == "rate limiter unavailable"
    assert limiter.fallback_count == 0
    await limiter.close()


async def test_slow_redis_is_bounded_by_the_timeout(clock: FakeClock) -> None:
    limiter, script = flaky_limiter("open", clock)
    script.mode = "slow"
    started = asyncio.get_running_loop().time()
    admission = await limiter.admit(WHO, tokens=1, cost_usd=ZERO)
    assert admission.fallback and asyncio.get_running_loop().time() - started < 1
    await limiter.close()


async def test_admission_whose_answer_was_lost_gives_back_its_slot_and_reservation(clock: FakeClock) -> None:
    limiter, script = flaky_limiter("open", clock)
    who = Principal(team_id="t1", team_name="acme", key_id="k1", team_limits=Limits(max_concurrency=1),
                    team_budget_usd=Decimal(1))
    script.mode = "late"  # the script ran in Redis, then the call timed out
    admission = await limiter.admit(who, tokens=1, cost_usd=Decimal("0.9"))
    assert admission.fallback
    await asyncio.sleep(0.05)  # the background cancel lands
    redis = limiter._redis
    assert await redis.zcard("rl:{team:t1}:conc:team") == 0
    assert await redis.hget("bud:{team:t1}:2023-11", "reserved") in (None, b"0")
    await admission.settle(tokens=1, cost_usd=Decimal("0.1"))  # the fallback's own settle, in process
    script.mode = "ok"
    await asyncio.sleep(0.25)  # back-off over: Redis again, with the slot and the budget free
    again = await limiter.admit(who, tokens=1, cost_usd=Decimal("0.9"))
    assert not again.fallback
    await limiter.close()


async def test_settle_failure_never_raises(clock: FakeClock) -> None:
    limiter, script = flaky_limiter("open", clock)
    admission = await limiter.admit(WHO, tokens=1, cost_usd=ZERO)
    script.mode = "down"
    await admission.settle(tokens=1, cost_usd=ZERO)
    await limiter.close()


async def test_factory_picks_in_process_without_redis() -> None:
    assert isinstance(create_limiter(Settings.from_env({}), None), LocalLimiter)
    limiter = create_limiter(Settings.from_env({"REDIS_URL": "redis://127.0.0.1:1/0"}), None)
    assert isinstance(limiter, RedisLimiter)
    await limiter.close()


class SelectiveScript:
    """Admissions of the team named in `hang` wait forever; everyone else gets Redis's answer."""

    def __init__(self, real: Any) -> None:
        self.real, self.hang = real, "t-slow"

    async def __call__(self, **kwargs: Any) -> Any:
        if any(self.hang in key for key in kwargs["keys"]):
            await asyncio.sleep(5)
        return await self.real(**kwargs)


async def test_our_own_backlog_is_a_503_not_a_fallback(clock: FakeClock) -> None:
    """A call late while Redis answers others is local overload: never per-process limits (hardening #4)."""
    limiter = RedisLimiter(fake_redis(), clock=clock, timeout_ms=200, backoff_s=0.2, owns_client=True)
    limiter._script = SelectiveScript(limiter._script)  # type: ignore[assignment]
    slow = Principal(team_id="t-slow", team_name="slow", key_id="k9", team_limits=Limits(rpm=5, max_concurrency=1))

    busy = Principal(team_id="t-busy", team_name="busy", key_id="k8", team_limits=Limits(rpm=100))

    async def others() -> None:
        for _ in range(8):
            await (await limiter.admit(busy, tokens=1, cost_usd=ZERO)).settle(tokens=1, cost_usd=ZERO)
            await asyncio.sleep(0.03)

    results = await asyncio.gather(limiter.admit(slow, tokens=1, cost_usd=ZERO), others(), return_exceptions=True)
    assert isinstance(results[0], Overloaded) and results[0].status == 503
    assert results[0].headers["retry-after"] == "1"
    assert limiter.fallback_count == 0 and limiter.overload_count == 1
    assert not any(shard.down for shard in limiter._shards.values())  # the next admission still goes to Redis
    assert not (await limiter.admit(WHO, tokens=1, cost_usd=ZERO)).fallback
    await limiter.close()


async def test_a_full_admission_queue_is_a_503_not_a_fallback(clock: FakeClock) -> None:
    limiter = RedisLimiter(fake_redis(), clock=clock, timeout_ms=5000, owns_client=True, admission_slots=1,
                           queue_timeout_s=0.1)
    limiter._script = SelectiveScript(limiter._script)  # type: ignore[assignment]
    slow = Principal(team_id="t-slow", team_name="slow", key_id="k9")
    first = asyncio.ensure_future(limiter.admit(slow, tokens=1, cost_usd=ZERO))  # holds the only slot
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded):
        await limiter.admit(WHO, tokens=1, cost_usd=ZERO)
    assert limiter.fallback_count == 0
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await limiter.close()


async def test_a_real_outage_still_falls_back_when_nothing_answers(clock: FakeClock) -> None:
    limiter, script = flaky_limiter("open", clock)
    script.mode = "slow"
    admissions = await asyncio.gather(*(limiter.admit(WHO, tokens=1, cost_usd=ZERO) for _ in range(3)))
    assert all(a.fallback for a in admissions) and limiter.overload_count == 0
    await limiter.close()
