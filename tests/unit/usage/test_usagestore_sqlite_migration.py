"""A database written before usage_key_monthly existed gets it backfilled once, from the raw records."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from proxy.usage.store.base import UsageRecord
from proxy.usage.store.sqlite import SQLiteUsageStore


def rec(i: int, key: str, ts: str) -> UsageRecord:
    return UsageRecord(request_id=f"r{i}", ts=ts, team_id="acme", key_id=key, model="m", bedrock_model_id="b",
                       cost_usd=Decimal("0.25"))


async def test_key_monthly_is_backfilled_from_older_databases(tmp_path: Path) -> None:
    path = str(tmp_path / "gw.db")
    old = SQLiteUsageStore(path, retention_days=10_000)
    await old.start()
    await old.write_batch([rec(1, "k1", "2026-11-02T00:00:00+00:00"), rec(2, "k1", "2026-11-30T23:59:59+00:00"),
                           rec(3, "k2", "2026-11-05T00:00:00+00:00"), rec(4, "k1", "2026-10-31T23:59:59+00:00")])
    await old.close()
    with sqlite3.connect(path) as conn:  # as a database from before the table existed
        conn.execute("DROP TABLE usage_key_monthly")

    for _ in range(2):  # the backfill runs once: a second start adds nothing
        store = SQLiteUsageStore(path, retention_days=10_000)
        await store.start()
        assert await store.key_month_spend("acme", "k1", "2026-11") == 500_000_000
        assert await store.key_month_spend("acme", "k2", "2026-11") == 250_000_000
        assert await store.key_month_spend("acme", "k1", "2026-10") == 250_000_000
        await store.close()

    store = SQLiteUsageStore(path, retention_days=10_000)
    await store.start()
    await store.write_batch([rec(5, "k2", "2026-11-06T00:00:00+00:00"), rec(3, "k2", "2026-11-05T00:00:00+00:00")])
    assert await store.key_month_spend("acme", "k2", "2026-11") == 500_000_000
    await store.close()


async def test_route_and_session_columns_are_added_to_older_databases(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as conn:  # the usage_records table as the first release created it
        conn.execute("""CREATE TABLE usage_records (
            request_id TEXT PRIMARY KEY, ts TEXT NOT NULL, team_id TEXT NOT NULL, key_id TEXT NOT NULL,
            cost_center TEXT, model TEXT NOT NULL, bedrock_model_id TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL, cost_nanos INTEGER NOT NULL,
            priced INTEGER NOT NULL, estimated INTEGER NOT NULL, latency_ms INTEGER NOT NULL,
            status TEXT NOT NULL, streaming INTEGER NOT NULL, expires_at INTEGER NOT NULL)""")
        conn.execute("INSERT INTO usage_records VALUES ('old', '2026-11-01T00:00:00+00:00', 'acme', 'k', NULL, 'm', "
                     "'b', 1, 1, 0, 0, 2, 0, 1, 0, 1, 'ok', 0, 99999999999)")
    store = SQLiteUsageStore(path, retention_days=10_000)
    await store.start()
    await store.write_batch([UsageRecord(request_id="new", ts="2026-11-02T00:00:00+00:00", team_id="acme",
                                         key_id="k", model="m", bedrock_model_id="b", route="messages",
                                         session_id="sess-1")])
    found = {r.request_id: (r.route, r.session_id) for r in await store.records(
        "acme", "2026-11-01T00:00:00+00:00", "2026-11-03T00:00:00+00:00")}
    assert found == {"old": ("chat", None), "new": ("messages", "sess-1")}
    await store.close()
