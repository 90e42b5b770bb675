"""Deployment routing (proxy/pipeline/routing.py): fallback order, what falls back, breakers, retries."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import replace

import pytest

from proxy.catalog.catalog import ModelEntry
from proxy.errors import GatewayError, InvalidRequest, RateLimited, UpstreamError, UpstreamTimeout
from proxy.pipeline.routing import CLOSED, HALF_OPEN, OPEN, CircuitBreakers, RetryPolicy, Router
from translators.openai_bedrock.capabilities import ModelCapabilities

A = ModelEntry(alias="m", bedrock_id="a", description="", capabilities=ModelCapabilities(), price=None)
B = replace(A, bedrock_id="b", provider="local")
C = replace(A, bedrock_id="c", provider="other")
MODEL = replace(A, alternatives=(B, C))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def upstream(outcomes: dict[str, list[GatewayError | None]], calls: list[str]):  # type: ignore[no-untyped-def]
    async def step(candidate: ModelEntry) -> str:
        calls.append(candidate.bedrock_id)
        queue = outcomes.get(candidate.bedrock_id, [])
        outcome = queue.pop(0) if queue else None
        if outcome is not None:
            raise outcome
        return candidate.bedrock_id
    return step


async def run(router: Router, step, entry: ModelEntry = MODEL) -> str:  # type: ignore[no-untyped-def]
    return await router.run(router.order(entry), time.perf_counter(), lambda c, i: True, step)


@pytest.mark.parametrize("error", [
    RateLimited("slow down", retry_after_s=1), UpstreamError("boom"), UpstreamTimeout("late"),
    UpstreamError("refused", code="upstream_refused"),
])
async def test_deployment_faults_fall_back_in_catalog_order(error: GatewayError) -> None:
    calls: list[str] = []
    answer = await run(Router(), upstream({"a": [error]}, calls))
    assert (answer, calls) == ("b", ["a", "b"])


async def test_request_faults_never_fall_back() -> None:
    calls: list[str] = []
    with pytest.raises(InvalidRequest):
        await run(Router(), upstream({"a": [InvalidRequest("bad temperature", param="temperature")]}, calls))
    assert calls == ["a"]


async def test_the_last_error_is_the_answer_when_every_deployment_fails() -> None:
    calls: list[str] = []
    step = upstream({"a": [UpstreamError("x")], "b": [UpstreamTimeout("y")], "c": [RateLimited("z")]}, calls)
    with pytest.raises(RateLimited):
        await run(Router(), step)
    assert calls == ["a", "b", "c"]


async def test_skipped_deployments_are_not_called() -> None:
    calls: list[str] = []
    router = Router()
    answer = await router.run(router.order(MODEL), time.perf_counter(), lambda c, i: c.bedrock_id != "b",
                              upstream({"a": [UpstreamError("x")]}, calls))
    assert (answer, calls) == ("c", ["a", "c"])


async def test_no_attempt_starts_after_the_deadline() -> None:
    calls: list[str] = []
    router = Router(policy=RetryPolicy(deadline_s=0.0))
    with pytest.raises(UpstreamError):
        await run(router, upstream({"a": [UpstreamError("x")]}, calls))
    assert calls == ["a"]


async def test_breaker_opens_after_consecutive_failures_moves_the_deployment_last_and_recovers() -> None:
    clock = Clock()
    router = Router(CircuitBreakers(failures=3, open_s=30, clock=clock))
    calls: list[str] = []
    step = upstream({"a": [UpstreamError("x")] * 3}, calls)
    for _ in range(3):
        assert await run(router, step) == "b"
    assert router.breakers.state(A.label) == OPEN
    calls.clear()
    assert await run(router, step) == "b" and calls == ["b"]  # open: the healthy one goes first
    assert [d.label for d in router.order(MODEL)] == [B.label, C.label, A.label]
    clock.now = 31  # cool-down over: the next call that reaches it is the probe
    assert router.breakers.admits(A.label) and router.breakers.state(A.label) == HALF_OPEN
    assert not router.breakers.admits(A.label)  # one probe at a time
    router.breakers.success(A.label)
    assert router.breakers.state(A.label) == CLOSED and router.order(MODEL)[0].label == A.label


async def test_a_failed_probe_opens_the_breaker_again() -> None:
    clock = Clock()
    breakers = CircuitBreakers(failures=1, open_s=10, clock=clock)
    breakers.failure("x")
    assert breakers.state("x") == OPEN
    clock.now = 11
    assert breakers.admits("x")
    breakers.failure("x")
    assert breakers.state("x") == OPEN and breakers.breakers["x"].opened_total == 2
    clock.now = 15
    assert not breakers.admits("x")


async def test_a_single_deployment_is_tried_even_with_its_breaker_open() -> None:
    router = Router(CircuitBreakers(failures=1, open_s=300))
    calls: list[str] = []
    step = upstream({"a": [UpstreamError("x")]}, calls)
    with pytest.raises(UpstreamError):
        await run(router, step, A)
    assert await run(router, step, A) == "a"  # never refused while it might answer
    assert router.breakers.state(A.label) == CLOSED


async def test_retries_back_off_and_honour_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("proxy.pipeline.routing.asyncio.sleep", sleep)
    router = Router(policy=RetryPolicy(retries=2, base_s=0.1, max_s=1.0), rng=random.Random(7))
    calls: list[str] = []
    step = upstream({"a": [RateLimited("slow", retry_after_s=0.5), UpstreamError("x")]}, calls)
    assert await run(router, step) == "a"
    assert calls == ["a", "a", "a"]
    assert slept[0] >= 0.5 and 0 <= slept[1] <= 0.2  # retry-after is the floor; then full jitter


async def test_no_retry_on_what_the_same_deployment_would_refuse_again() -> None:
    router = Router(policy=RetryPolicy(retries=3))
    calls: list[str] = []
    refused = UpstreamError("refused", code="upstream_refused")  # e.g. its key was rejected (401)
    assert await run(router, upstream({"a": [refused]}, calls)) == "b"
    assert calls == ["a", "b"]  # straight to the next deployment, no retry of this one


def test_weights_share_the_first_attempts() -> None:
    weighted = replace(A, weight=3, alternatives=(replace(B, weight=1),))
    router = Router(rng=random.Random(1))
    firsts = Counter(router.order(weighted)[0].bedrock_id for _ in range(4000))
    assert 0.70 < firsts["a"] / 4000 < 0.80
    assert all(len(router.order(weighted)) == 2 for _ in range(10))


def test_without_weights_the_catalog_order_holds() -> None:
    assert [d.bedrock_id for d in Router().order(MODEL)] == ["a", "b", "c"]


async def test_a_cooling_deployment_is_not_prepared_and_one_that_cannot_take_the_request_keeps_its_probe() -> None:
    clock = Clock()
    router = Router(CircuitBreakers(failures=1, open_s=10, clock=clock))
    router.breakers.failure(B.label)
    prepared: list[str] = []

    def use(candidate: ModelEntry, index: int) -> bool:
        prepared.append(candidate.bedrock_id)
        return candidate.bedrock_id != "b"

    calls: list[str] = []
    step = upstream({"a": [UpstreamError("x")]}, calls)
    order = [A, B, C]  # the catalog's order, as if the breaker had not reordered it
    assert await router.run(order, time.perf_counter(), use, step) == "c"
    assert prepared == ["a", "c"]  # b is cooling down: never prepared
    clock.now = 11  # b's cool-down is over, but b cannot take this request: its probe stays available
    calls.clear()
    assert await router.run(order, time.perf_counter(), use, upstream({"a": [UpstreamError("x")]}, calls)) == "c"
    assert router.breakers.state(B.label) == OPEN and router.breakers.usable(B.label)
