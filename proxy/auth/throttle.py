"""Failed authentication attempts, counted per client address: guessing stops paying, valid keys never wait.

Hardening #10: 2,000 wrong admin-key guesses took 0.3 s, and every checksum-valid forged team key costs
a store read. An address with too many failures in a minute is refused (429) for what is left of that
minute: every admin attempt, and every team-key lookup that would reach the store. A team key already
in the cache is answered before the throttle is asked, so a busy shared address (a load balancer)
never slows valid keys that are in use.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from proxy.errors import RateLimited

WINDOW_S = 60.0
MAX_ADDRESSES = 10_000  # bounded memory under a spray from many addresses (oldest forgotten first)


class FailureThrottle:
    def __init__(self, max_failures: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self.refused = 0  # attempts refused (metric)

    def check(self, address: str | None) -> None:
        """Raise 429 if ``address`` is over its failure budget for the current minute."""
        if address is None or self.max_failures <= 0:
            return
        times = self._failures.get(address)
        if times is None:
            return
        now = self._clock()
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        if len(times) >= self.max_failures:
            self.refused += 1
            raise RateLimited("Too many failed authentication attempts from your address; retry later.",
                              code="too_many_failed_attempts", retry_after_s=times[0] + WINDOW_S - now)

    def failed(self, address: str | None) -> None:
        if address is None or self.max_failures <= 0:
            return
        times = self._failures.pop(address, None) or deque(maxlen=self.max_failures)
        times.append(self._clock())
        self._failures[address] = times  # most recent last
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)
