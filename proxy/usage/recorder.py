"""Usage recording off the hot path: record() enqueues; a background task batches records to the store.

While the store fails, each flush tick moves the buffer to this process's spool file (fsync'd) and the
store is retried with backoff; when it answers, spools are replayed in order before newer records.
start() adopts spools left by dead processes; close() flushes everything and spools what it cannot write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from proxy.usage.spool import Spool
from proxy.usage.store.base import UsageRecord, UsageStore

if TYPE_CHECKING:
    from proxy.settings import Settings

__all__ = ["RecorderStats", "UsageRecord", "UsageRecorder", "UsageSink"]

log = logging.getLogger("llm_gateway.usage")

# (team_id, None) for a team, (team_id, key_id) for a key with a budget of its own -> its budget.
BudgetSubject = tuple[str, str | None]
BudgetNotifier = Callable[[dict[BudgetSubject, Decimal | None]], Awaitable[object]]


class UsageSink(Protocol):
    """Where the call pipeline hands its records (the recorder here; a list in tests)."""

    def record(self, rec: UsageRecord) -> None: ...


@dataclass
class RecorderStats:
    recorded: int = 0  # record() calls
    written: int = 0  # records newly stored
    duplicates: int = 0  # records the store already had (replays)
    spooled: int = 0
    replayed: int = 0  # records read back from spool files into the store
    store_failures: int = 0


class UsageRecorder:
    @classmethod
    def from_settings(cls, store: UsageStore, settings: Settings, **options: Any) -> UsageRecorder:
        """The three values it reads, from the settings (the composition root and the CLI use this)."""
        return cls(store, spool_dir=settings.usage_spool_dir, flush_interval_s=settings.usage_flush_interval_s,
                   buffer_max=settings.usage_buffer_max, **options)

    def __init__(self, store: UsageStore, *, spool_dir: str, flush_interval_s: float = 1.0,
                 buffer_max: int = 100_000, on_flush: BudgetNotifier | None = None,
                 batch_size: int = 500) -> None:
        self.store = store
        self.spool_dir = spool_dir
        self.flush_interval_s = flush_interval_s
        self.buffer_max = buffer_max
        self.on_flush = on_flush  # e.g. BudgetAlerter.check: the teams and keys touched by a flush
        self.batch_size = batch_size
        self.stats = RecorderStats()
        self._buffer: deque[UsageRecord] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._spools: list[Spool] = []  # orphans first, this process's own spool last
        self._own: Spool | None = None
        self._touched: dict[BudgetSubject, Decimal | None] = {}
        self._down_until = 0.0
        self._failures = 0
        self._closed = False  # the flusher loop stops
        self._finished = False  # close() is done: late records go straight to a spool file

    # --- hot path ------------------------------------------------------------------------------
    def record(self, rec: UsageRecord) -> None:
        """Enqueue one record: no I/O, never raises."""
        try:
            self.stats.recorded += 1
            if self._finished:
                self._late(rec)
                return
            self._buffer.append(rec)
            if len(self._buffer) >= min(self.batch_size, self.buffer_max):
                self._wake.set()
        except Exception:  # a usage bug must never fail a request
            log.exception("usage record dropped: request_id=%s", getattr(rec, "request_id", "?"))

    def _late(self, rec: UsageRecord) -> None:
        # After close() there is no flusher: a (blocking, rare) spool write is better than a lost record.
        log.warning("usage record after close, spooled: request_id=%s", rec.request_id)
        spool = Spool.create(self.spool_dir)
        spool.append([rec])
        spool.release(delete=False)

    @property
    def pending(self) -> int:
        """Records in memory (not yet in the store or a spool file)."""
        return len(self._buffer)

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        orphans = await asyncio.to_thread(Spool.adopt_orphans, self.spool_dir)
        self._own = await asyncio.to_thread(Spool.create, self.spool_dir)
        self._spools = [*orphans, self._own]
        if orphans:
            log.info("usage: replaying %d spool file(s) left by a previous process", len(orphans))
        await self._drain()
        self._task = asyncio.create_task(self._run(), name="usage-flusher")

    async def close(self, *, timeout_s: float = 10.0) -> None:
        """Flush everything (SIGTERM path); whatever the store cannot take within timeout_s is spooled."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._task is not None:
            # Let the current iteration finish (a spool write must not be cut); cancel if it hangs.
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self._down_until = 0.0
        try:
            await asyncio.wait_for(self._drain(), timeout_s)
        except TimeoutError:
            log.error("usage: store too slow at shutdown; spooling %d record(s)", len(self._buffer))
        if self._buffer:
            await self._spool_buffer()
        for spool in self._spools:
            empty = not spool.orphan and spool.size() == 0
            await asyncio.to_thread(spool.release, delete=empty)
        self._spools = []
        self._finished = True

    async def flush(self) -> None:
        """Write what is buffered now (tests, admin)."""
        self._down_until = 0.0
        await self._drain()

    # --- background ----------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            if self._closed:
                return
            try:
                await self._drain()
            except Exception:  # the flusher must outlive any bug
                log.exception("usage flusher iteration failed")

    async def _drain(self) -> None:
        # One drain at a time (flusher, flush(), close()): spool offsets and order depend on it.
        async with self._lock:
            await self._drain_locked()

    async def _drain_locked(self) -> None:
        if self._own is None:
            return  # not started: records wait in memory
        if time.monotonic() < self._down_until:
            await self._spool_buffer()
            return
        try:
            await self._replay_spools()
            await self._flush_buffer()
        except Exception as exc:
            self._mark_down(exc)
            await self._spool_buffer()
            return
        self._failures = 0
        await self._notify()

    async def _write(self, batch: list[UsageRecord]) -> None:
        new = await self.store.write_batch(batch)
        self.stats.written += new
        self.stats.duplicates += len(batch) - new
        for rec in batch:
            team = (rec.team_id, None)
            self._touched[team] = rec.team_budget_usd or self._touched.get(team)
            if rec.key_budget_usd is not None:
                self._touched[(rec.team_id, rec.key_id)] = rec.key_budget_usd

    async def _flush_buffer(self) -> None:
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
            try:
                await self._write(batch)
            except BaseException:
                self._buffer.extendleft(reversed(batch))  # back at the head: order is kept
                raise

    async def _replay_spools(self) -> None:
        for spool in list(self._spools):
            while True:
                batch, offset = await asyncio.to_thread(spool.read, self.batch_size)
                if offset == spool.offset:
                    break
                if batch:
                    await self._write(batch)
                    self.stats.replayed += len(batch)
                spool.offset = offset
            if spool.orphan:
                await asyncio.to_thread(spool.release, delete=True)
                self._spools.remove(spool)
            elif spool.offset:
                await asyncio.to_thread(spool.reset)

    async def _spool_buffer(self) -> None:
        if not self._buffer or self._own is None:
            return
        records = list(self._buffer)
        self._buffer.clear()
        try:
            await asyncio.to_thread(self._own.append, records)
        except OSError:
            log.exception("usage spool write failed; keeping %d record(s) in memory", len(records))
            self._buffer.extendleft(reversed(records))
            return
        self.stats.spooled += len(records)

    def _mark_down(self, exc: Exception) -> None:
        self._failures += 1
        self.stats.store_failures += 1
        delay = min(30.0, 0.5 * 2 ** (self._failures - 1))
        self._down_until = time.monotonic() + delay
        log.warning("usage store unavailable (%s); spooling, retry in %.1fs", exc, delay)

    async def _notify(self) -> None:
        if not self._touched or self.on_flush is None:
            self._touched.clear()
            return
        touched, self._touched = self._touched, {}
        try:
            await self.on_flush(touched)
        except Exception:
            log.exception("budget alert check failed")
