"""Sliding windows: edges, the weighted previous window, retry-after, headers, stricter of team/key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from proxy.errors import RateLimited
from proxy.identity import Limits, Principal
from proxy.ratelimit_headers import format_duration
from tests.unit.ratelimit.support import Factory, FakeClock

ZERO = Decimal(0)


NO_LIMITS = Limits()


def principal(team: Limits = NO_LIMITS, key: Limits = NO_LIMITS) -> Principal:
    return Principal(team_id="t1", team_name="acme", key_id="k1", team_limits=team, key_limits=key)


async def test_window_edge_and_retry_after_into_next_window(make: Factory, clock: FakeClock) -> None:
    limiter, who = make(), principal(Limits(rpm=3))
    for _ in range(3):
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    err = exc.value
    assert err.type == "requests" and err.code == "rate_limit_exceeded" and err.status == 429
    # cur=3 fills this window; in the next one prev=3 must decay to 2: 60 s + 20 s.
    assert err.retry_after_s == 80.0
    assert err.headers["retry-after"] == "80"
    assert err.message == (
        "Rate limit reached for requests per minute (RPM) on team acme: Limit 3, Used 3, Requested 1. "
        "Please try again in 1m20s."
    )
    assert err.headers["x-ratelimit-remaining-requests"] == "0"
    clock.advance(79.999)
    with pytest.raises(RateLimited):
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    clock.advance(0.001)
    await limiter.admit(who, tokens=1, cost_usd=ZERO)


async def test_weighted_previous_window(make: Factory, clock: FakeClock) -> None:
    limiter, who = make(), principal(Limits(rpm=10))
    clock.advance(30)
    for _ in range(10):
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    clock.advance(30)  # exactly the next window's start: prev=10 weighs fully
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    assert exc.value.retry_after_s == 6.0  # 10 * (1 - 6/60) + 1 = 10
    clock.advance(5.999)
    with pytest.raises(RateLimited):
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    clock.advance(0.001)
    admission = await limiter.admit(who, tokens=1, cost_usd=ZERO)
    assert admission.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(who, tokens=1, cost_usd=ZERO)
    assert exc.value.retry_after_s == 6.0  # now at 12 s into the window
    clock.advance(120)  # two windows later everything has slid out
    for _ in range(10):
        await limiter.admit(who, tokens=1, cost_usd=ZERO)


async def test_headers_for_admitted_request(make: Factory, clock: FakeClock) -> None:
    limiter = make()
    admission = await limiter.admit(principal(Limits(rpm=10, tpm=1000)), tokens=100, cost_usd=ZERO)
    assert admission.headers == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": "2m0s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "2m0s",
    }


async def test_no_limits_means_unchecked_and_no_headers(make: Factory) -> None:
    limiter = make()
    for _ in range(50):
        admission = await limiter.admit(principal(), tokens=10**6, cost_usd=ZERO)
    assert admission.headers == {}


async def test_stricter_of_team_and_key_wins(make: Factory) -> None:
    limiter, who = make(), principal(Limits(rpm=10, tpm=1000), Limits(rpm=2))
    first = await limiter.admit(who, tokens=10, cost_usd=ZERO)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-limit-tokens"] == "1000"  # the key has no TPM: the team's applies
    await limiter.admit(who, tokens=10, cost_usd=ZERO)
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(who, tokens=10, cost_usd=ZERO)
    assert "on key k1: Limit 2, Used 2" in exc.value.message
    # Another key of the same team still has the team's room left.
    other = Principal(team_id="t1", team_name="acme", key_id="k2", team_limits=Limits(rpm=10))
    admission = await limiter.admit(other, tokens=10, cost_usd=ZERO)
    assert admission.headers["x-ratelimit-remaining-requests"] == "7"


async def test_all_or_nothing(make: Factory) -> None:
    limiter, who = make(), principal(Limits(rpm=5, tpm=1000), Limits(tpm=100))
    for _ in range(3):
        with pytest.raises(RateLimited) as exc:
            await limiter.admit(who, tokens=150, cost_usd=ZERO)
        assert exc.value.type == "tokens"
    for _ in range(5):  # the rejected requests consumed nothing
        await limiter.admit(who, tokens=10, cost_usd=ZERO)


async def test_tokens_retry_after_and_message(make: Factory, clock: FakeClock) -> None:
    limiter, who = make(), principal(Limits(tpm=1000))
    await limiter.admit(who, tokens=900, cost_usd=ZERO)
    clock.advance(60)  # next window: prev=900
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(who, tokens=400, cost_usd=ZERO)
    # 900 * (60 - t)/60 + 400 <= 1000  ->  t >= 20 s
    assert exc.value.retry_after_s == 20.0
    assert exc.value.type == "tokens"
    assert "tokens per minute (TPM) on team acme: Limit 1000, Used 900, Requested 400" in exc.value.message
    assert exc.value.message.endswith("Please try again in 20s.")


async def test_request_larger_than_the_limit(make: Factory) -> None:
    limiter = make()
    with pytest.raises(RateLimited) as exc:
        await limiter.admit(principal(Limits(tpm=100)), tokens=200, cost_usd=ZERO)
    assert exc.value.message.startswith("Request too large for tokens per minute (TPM)")
    assert exc.value.retry_after_s is None and "retry-after" not in exc.value.headers


async def test_settle_corrects_tokens_in_current_window(make: Factory) -> None:
    limiter, who = make(), principal(Limits(tpm=1000))
    admission = await limiter.admit(who, tokens=500, cost_usd=ZERO)
    await admission.settle(tokens=900, cost_usd=ZERO)  # a long stream: more than estimated
    await admission.settle(tokens=900, cost_usd=ZERO)  # idempotent
    with pytest.raises(RateLimited):
        await limiter.admit(who, tokens=200, cost_usd=ZERO)
    small = await limiter.admit(who, tokens=100, cost_usd=ZERO)
    assert small.headers["x-ratelimit-remaining-tokens"] == "0"
    await small.settle(tokens=0, cost_usd=ZERO)  # over-estimate refunded
    again = await limiter.admit(who, tokens=100, cost_usd=ZERO)
    assert again.headers["x-ratelimit-remaining-tokens"] == "0"


async def test_settle_refund_never_goes_below_zero(make: Factory, clock: FakeClock) -> None:
    limiter, who = make(), principal(Limits(tpm=1000))
    admission = await limiter.admit(who, tokens=800, cost_usd=ZERO)
    clock.advance(120)  # the charged window is gone; the refund lands on an empty current window
    await admission.settle(tokens=0, cost_usd=ZERO)
    nxt = await limiter.admit(who, tokens=1000, cost_usd=ZERO)
    assert nxt.headers["x-ratelimit-remaining-tokens"] == "0"


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0ms"), (20, "20ms"), (999, "999ms"), (1000, "1s"), (1500, "1.5s"), (60_000, "1m0s"),
     (360_000, "6m0s"), (80_250, "1m20.25s")],
)
def test_openai_duration_format(ms: int, text: str) -> None:
    assert format_duration(ms) == text
