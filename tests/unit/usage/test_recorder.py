"""UsageRecorder: batching off the hot path, spool on outage, ordered replay, close and restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from proxy.settings import Settings
from proxy.usage.recorder import UsageRecorder
from proxy.usage.spool import Spool
from proxy.usage.store.base import UsageRecord

from .usage_fakes import FakeStore, make_record


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, usage_flush_interval_s=0.02, usage_spool_dir=str(tmp_path / "spool"),
                             usage_buffer_max=100)


def spool_lines(settings: Settings) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in Path(settings.usage_spool_dir).glob("*.jsonl"))


async def wait_for(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_record_is_enqueue_only_and_flushes_in_background(settings: Settings) -> None:
    store = FakeStore()
    recorder = UsageRecorder.from_settings(store, settings)
    await recorder.start()
    for i in range(250):
        recorder.record(make_record(i))
    assert recorder.pending == 250 and store.calls == 0  # record() never touched the store
    await wait_for(lambda: len(store.rows) == 250)
    await recorder.close()
    assert recorder.stats.written == 250 and recorder.stats.spooled == 0
    assert not list(Path(settings.usage_spool_dir).glob("*.jsonl"))  # empty own spool removed


async def test_record_never_raises(settings: Settings) -> None:
    recorder = UsageRecorder.from_settings(FakeStore(), settings)
    recorder.record(None)  # type: ignore[arg-type]  # a bug upstream must not fail the request


async def test_outage_spools_then_replays_in_order_without_loss(settings: Settings) -> None:
    store = FakeStore()
    recorder = UsageRecorder.from_settings(store, settings, batch_size=50)
    await recorder.start()
    store.down = True
    for i in range(300):
        recorder.record(make_record(i))
        if i % 50 == 0:
            await asyncio.sleep(0.03)
    await wait_for(lambda: recorder.pending == 0)
    assert spool_lines(settings) == 300 and not store.rows
    store.down = False
    await recorder.flush()
    assert store.order == [f"req-team-a-{i:06d}" for i in range(300)]
    assert recorder.stats.replayed == 300 and recorder.stats.duplicates == 0
    assert spool_lines(settings) == 0
    await recorder.close()


async def test_close_spools_what_the_store_cannot_take_and_restart_replays(settings: Settings) -> None:
    store = FakeStore()
    store.down = True
    first = UsageRecorder.from_settings(store, settings)
    await first.start()
    for i in range(120):
        first.record(make_record(i))
    await first.close()
    assert spool_lines(settings) == 120 and not store.rows
    store.down = False
    second = UsageRecorder.from_settings(store, settings)
    await second.start()  # adopts the dead process's spool
    assert len(store.rows) == 120 and second.stats.replayed == 120
    assert not list(Path(settings.usage_spool_dir).glob("*.jsonl")) or spool_lines(settings) == 0
    await second.close()


async def test_replay_is_idempotent(settings: Settings) -> None:
    store = FakeStore()
    recs = [make_record(i) for i in range(10)]
    await store.write_batch(recs[:6])  # written, then the process died before truncating its spool
    spool = Spool.create(settings.usage_spool_dir)
    spool.append(recs)
    spool.release(delete=False)
    recorder = UsageRecorder.from_settings(store, settings)
    await recorder.start()
    assert len(store.rows) == 10
    assert recorder.stats.written == 4 and recorder.stats.duplicates == 6
    await recorder.close()


async def test_a_live_process_spool_is_not_adopted(settings: Settings) -> None:
    live = Spool.create(settings.usage_spool_dir)
    live.append([make_record(1)])
    store = FakeStore()
    recorder = UsageRecorder.from_settings(store, settings)
    await recorder.start()
    assert not store.rows  # still owned (locked) by its writer
    await recorder.close()
    live.release(delete=False)
    again = UsageRecorder.from_settings(store, settings)
    await again.start()
    assert list(store.rows) == ["req-team-a-000001"]
    await again.close()


async def test_torn_last_line_is_skipped(settings: Settings) -> None:
    spool = Spool.create(settings.usage_spool_dir)
    spool.append([make_record(1)])
    spool.release(delete=False)
    with open(spool.path, "ab") as fh:
        fh.write(make_record(2).to_json()[:40])
    store = FakeStore()
    recorder = UsageRecorder.from_settings(store, settings)
    await recorder.start()
    assert list(store.rows) == ["req-team-a-000001"]
    await recorder.close()


async def test_flush_notifies_touched_teams_and_keys_with_budgets(settings: Settings) -> None:
    seen: list[dict[tuple[str, str | None], Decimal | None]] = []

    async def on_flush(touched: dict[tuple[str, str | None], Decimal | None]) -> None:
        seen.append(touched)

    recorder = UsageRecorder.from_settings(FakeStore(), settings, on_flush=on_flush)
    await recorder.start()
    recorder.record(make_record(1, team="a", budget=Decimal(10)))
    recorder.record(make_record(2, team="b"))
    recorder.record(make_record(3, team="b", key="k9", key_budget=Decimal(2)))
    await recorder.flush()
    assert seen == [{("a", None): Decimal(10), ("b", None): None, ("b", "k9"): Decimal(2)}]
    await recorder.close()


async def test_record_after_close_is_spooled_not_lost(settings: Settings) -> None:
    store = FakeStore()
    recorder = UsageRecorder.from_settings(store, settings)
    await recorder.start()
    await recorder.close()
    recorder.record(make_record(7))
    assert spool_lines(settings) == 1
    again = UsageRecorder.from_settings(store, settings)
    await again.start()
    assert list(store.rows) == ["req-team-a-000007"]
    await again.close()


def test_record_json_round_trip() -> None:
    rec = make_record(3, budget=Decimal("12.5"))
    assert UsageRecord.from_json(rec.to_json()) == rec
