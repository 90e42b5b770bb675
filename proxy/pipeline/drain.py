"""Graceful drain on SIGTERM: calls in flight get until a deadline, then end in the client's envelope.

The server (proxy/server/run.py) calls ``begin_drain(deadline_s)`` when it stops accepting. Calls still
running at the deadline are cancelled with a reason the pipeline recognises: a plain call answers 503
server_shutting_down (with retry-after), a stream ends with an error event and [DONE]; both are booked
before the process exits (the usage recorder flushes in the lifespan shutdown that follows).
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("llm_gateway")

SHUTDOWN_REASON = "llm-gateway drain deadline"


class Drain:
    def __init__(self) -> None:
        self.draining = False
        self.expired = False
        self._tasks: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def track(self) -> asyncio.Task[object] | None:
        """Register the current task (one set add: the hot path's whole cost); returns it for ``done``."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        return task

    def done(self, task: asyncio.Task[object] | None) -> None:
        if task is not None:
            self._tasks.discard(task)

    def begin(self, deadline_s: float) -> None:
        if self.draining:
            return
        self.draining = True
        log.warning("draining: %d call(s) in flight get %.1fs to finish", len(self._tasks), deadline_s)
        self._timer = asyncio.get_running_loop().call_later(deadline_s, self._expire)

    def _expire(self) -> None:
        self.expired = True
        if self._tasks:
            log.warning("drain deadline: ending %d call(s) in the client's envelope", len(self._tasks))
        for task in list(self._tasks):
            task.cancel(SHUTDOWN_REASON)

    def is_shutdown(self, exc: asyncio.CancelledError) -> bool:
        """This cancellation is the drain deadline (not the client going away)."""
        return self.expired and SHUTDOWN_REASON in exc.args


# One per process: the server that receives SIGTERM and the pipelines it serves live in the same process.
DRAIN = Drain()


def begin_drain(deadline_s: float) -> None:
    DRAIN.begin(deadline_s)
