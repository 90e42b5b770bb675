"""Which deployment serves a call: weighted order, circuit breakers, retries and fallbacks.

A model's deployments (proxy/catalog/catalog.py ``ModelEntry.deployments``) are tried in the catalog's
order, or, where they carry weights, with the first attempt drawn by weight. A deployment whose breaker
is open goes to the back of the line instead of being dropped: a request is never refused while some
deployment might answer it, and the one it reaches doubles as the half-open probe.

Fallback happens on what is about the deployment (throttling, 5xx, timeouts, connection errors, its
credentials or its deployment refused), never on what is about the request (400/413/422: every
deployment would say the same), never once a stream has sent its first byte (the pipeline's step
returns at the first upstream event, so a later failure is not seen here), and no new attempt starts
after the per-request deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from proxy.catalog.catalog import ModelEntry
from proxy.errors import GatewayError, InvalidRequest

log = logging.getLogger("llm_gateway.routing")

R = TypeVar("R")
REQUEST_FAULTS = frozenset({400, 413, 422})  # the request's own fault: another deployment answers the same
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})  # worth the same deployment again, after a back-off
# ... except what this deployment would refuse again: its key or deployment refused
# (proxy/providers/openai_format/errors.py), our own misconfiguration (e.g. Bedrock's AccessDenied).
NOT_RETRYABLE_CODES = frozenset({"upstream_refused", "insufficient_quota", "internal_error"})

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


@dataclass
class Breaker:
    state: str = CLOSED
    failures: int = 0  # consecutive
    opened_at: float = 0.0
    probing: bool = False
    opened_total: int = 0


class CircuitBreakers:
    """One breaker per deployment label, in this process (each replica learns on its own traffic).

    Opens after ``failures`` consecutive failures; after ``open_s`` one call is let through as a probe
    (half-open): success closes it, failure opens it again for another ``open_s``.
    """

    def __init__(self, *, failures: int = 5, open_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.open_s = open_s
        self.clock = clock
        self.breakers: dict[str, Breaker] = {}

    def _get(self, label: str) -> Breaker:
        breaker = self.breakers.get(label)
        if breaker is None:
            breaker = self.breakers[label] = Breaker()
        return breaker

    def admits(self, label: str) -> bool:
        """Whether a call should go here now (a True for an open breaker past its cool-down takes the probe)."""
        breaker = self.breakers.get(label)
        if breaker is None or breaker.state == CLOSED:
            return True
        if breaker.state == OPEN and self.clock() - breaker.opened_at >= self.open_s:
            breaker.state, breaker.probing = HALF_OPEN, True
            return True
        return False  # open and cooling down, or half-open with its probe in flight

    def usable(self, label: str) -> bool:
        """Closed, or open with its cool-down over (its next call is the probe); does not take the probe."""
        breaker = self.breakers.get(label)
        if breaker is None or breaker.state == CLOSED:
            return True
        return breaker.state == OPEN and self.clock() - breaker.opened_at >= self.open_s

    def success(self, label: str) -> None:
        breaker = self.breakers.get(label)
        if breaker is not None:
            breaker.state, breaker.failures, breaker.probing = CLOSED, 0, False

    def failure(self, label: str) -> None:
        breaker = self._get(label)
        breaker.failures += 1
        if breaker.state == HALF_OPEN or (breaker.state == CLOSED and breaker.failures >= self.failures):
            breaker.state, breaker.opened_at, breaker.probing = OPEN, self.clock(), False
            breaker.opened_total += 1
            log.warning("circuit open deployment=%s after %d consecutive failures", label, breaker.failures)

    def state(self, label: str) -> str:
        breaker = self.breakers.get(label)
        return CLOSED if breaker is None else breaker.state


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 0  # extra attempts on the same deployment (the openai SDK retries too: they multiply)
    base_s: float = 0.25
    max_s: float = 4.0
    deadline_s: float = 30.0  # no attempt starts later than this after the request arrived

    def backoff(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Exponential back-off with full jitter; the upstream's retry-after, when given, is the floor."""
        delay = rng.uniform(0, min(self.max_s, self.base_s * (2 ** attempt)))
        return max(delay, retry_after_s or 0.0)


class Router:
    def __init__(self, breakers: CircuitBreakers | None = None, policy: RetryPolicy | None = None,
                 rng: random.Random | None = None) -> None:
        self.breakers = breakers or CircuitBreakers()
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()  # spreads load and jitter; nothing secret depends on it
        self.attempts: dict[tuple[str, str], int] = {}  # (deployment, outcome) -> count, for /metrics

    def order(self, entry: ModelEntry) -> list[ModelEntry]:
        deployments = list(entry.deployments)
        if len(deployments) > 1 and any(d.weight is not None for d in deployments):
            deployments = self._weighted(deployments)
        if len(deployments) == 1:
            return deployments
        usable = [d for d in deployments if self.breakers.usable(d.label)]
        return usable + [d for d in deployments if not self.breakers.usable(d.label)]

    def _weighted(self, deployments: list[ModelEntry]) -> list[ModelEntry]:
        """Weighted sampling without replacement: the first attempt by weight, the fallbacks likewise."""
        pool = [(d, 1 if d.weight is None else d.weight) for d in deployments]
        out: list[ModelEntry] = []
        while pool:
            total = sum(w for _, w in pool)
            if total <= 0:
                out.extend(d for d, _ in pool)
                break
            pick = self.rng.uniform(0, total)
            for i, (d, w) in enumerate(pool):
                pick -= w
                if pick <= 0 or i == len(pool) - 1:
                    out.append(d)
                    pool.pop(i)
                    break
        return out

    async def run(self, candidates: Sequence[ModelEntry], started: float,
                  use: Callable[[ModelEntry, int], bool],
                  step: Callable[[ModelEntry], Awaitable[R]]) -> R:
        """``step`` on each candidate until one answers. ``use(candidate, index)`` sets the call up for a
        candidate and says whether it can take the request at all (False: skipped, e.g. a provider that
        cannot express it); ``started`` is the request's perf_counter arrival."""
        last: GatewayError | None = None
        deadline = started + self.policy.deadline_s
        for index, candidate in enumerate(candidates):
            if index and time.perf_counter() >= deadline:
                break
            label = candidate.label
            # One cooling down (or probed by another call) is skipped while others remain, before its
            # request is prepared for nothing; the first and the last resort are tried regardless.
            if 0 < index < len(candidates) - 1 and not self.breakers.usable(label):
                continue
            if not use(candidate, index):
                continue
            self.breakers.admits(label)  # an open breaker past its cool-down turns half-open: the probe
            for attempt in range(1 + self.policy.retries):
                try:
                    result = await step(candidate)
                except GatewayError as exc:
                    if exc.status in REQUEST_FAULTS:
                        self._count(label, "request_error")
                        raise
                    self.breakers.failure(label)
                    self._count(label, "failed")
                    last = exc
                    if exc.status not in RETRYABLE or exc.code in NOT_RETRYABLE_CODES \
                            or attempt >= self.policy.retries:
                        break
                    wait = self.policy.backoff(attempt, getattr(exc, "retry_after_s", None), self.rng)
                    if time.perf_counter() + wait >= deadline:
                        break
                    await asyncio.sleep(wait)
                    continue
                self.breakers.success(label)
                self._count(label, "ok")
                return result
            if index < len(candidates) - 1:
                log.info("falling back from deployment=%s after %s", label, type(last).__name__)
        if last is None:  # every candidate skipped: none can take this request
            raise InvalidRequest("No deployment of this model can take this request.", param="model")
        raise last

    def _count(self, label: str, outcome: str) -> None:
        key = (label, outcome)
        self.attempts[key] = self.attempts.get(key, 0) + 1
