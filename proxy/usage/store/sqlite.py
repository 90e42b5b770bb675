"""Usage store on SQLite: the embedded default, sharing the key store's database file.

Own tables (usage_records, usage_daily, usage_key_monthly, usage_budget_alerts) and own connection,
driven from one worker thread so the event loop never blocks. A record is inserted with INSERT OR
IGNORE and added to its aggregates in the same transaction only when it was new: replays never double
count.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import orjson

from proxy.private_files import private_file
from proxy.usage.money import from_nanos
from proxy.usage.store.base import COUNTERS, DailyAggregate, UsageRecord, counters, dedupe, expires_at

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_records (
    request_id TEXT PRIMARY KEY, ts TEXT NOT NULL, team_id TEXT NOT NULL, key_id TEXT NOT NULL,
    cost_center TEXT, model TEXT NOT NULL, bedrock_model_id TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL, cost_nanos INTEGER NOT NULL,
    priced INTEGER NOT NULL, estimated INTEGER NOT NULL, latency_ms INTEGER NOT NULL,
    status TEXT NOT NULL, streaming INTEGER NOT NULL, expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_records_team_ts ON usage_records (team_id, ts);
CREATE TABLE IF NOT EXISTS usage_daily (
    team_id TEXT NOT NULL, day TEXT NOT NULL, model TEXT NOT NULL, cost_center TEXT,
    requests INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0, cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0, total_tokens INTEGER NOT NULL DEFAULT 0,
    cost_nanos INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, day, model)
);
CREATE TABLE IF NOT EXISTS usage_budget_alerts (
    alert_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, body TEXT NOT NULL
);
"""

# Created apart from SCHEMA so that a database from before it existed is backfilled exactly once.
KEY_MONTHLY_SCHEMA = """
CREATE TABLE usage_key_monthly (
    team_id TEXT NOT NULL, key_id TEXT NOT NULL, period TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0, cost_nanos INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, key_id, period)
);
INSERT INTO usage_key_monthly (team_id, key_id, period, requests, cost_nanos)
    SELECT team_id, key_id, substr(ts, 1, 7), count(*), sum(cost_nanos) FROM usage_records
    GROUP BY team_id, key_id, substr(ts, 1, 7);
"""

_RAW_COLUMNS = ("request_id", "ts", "team_id", "key_id", "cost_center", "model", "bedrock_model_id",
                "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens",
                "total_tokens", "cost_nanos", "priced", "estimated", "latency_ms", "status",
                "streaming", "expires_at", "route", "session_id")
# Column lists are this module's constants; every value is a bound parameter (bandit B608 is about input).
_INSERT_RAW = (f"INSERT OR IGNORE INTO usage_records ({', '.join(_RAW_COLUMNS)}) "  # nosec B608
               f"VALUES ({', '.join('?' * len(_RAW_COLUMNS))})")
_UPSERT_DAILY = (
    f"INSERT INTO usage_daily (team_id, day, model, cost_center, {', '.join(COUNTERS)}) "  # nosec B608
    f"VALUES (?, ?, ?, ?, {', '.join('?' * len(COUNTERS))}) "
    "ON CONFLICT (team_id, day, model) DO UPDATE SET cost_center = excluded.cost_center, "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTERS)
)


_UPSERT_KEY_MONTHLY = (
    "INSERT INTO usage_key_monthly (team_id, key_id, period, requests, cost_nanos) VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT (team_id, key_id, period) DO UPDATE SET requests = requests + 1, "
    "cost_nanos = cost_nanos + excluded.cost_nanos"
)


class SQLiteUsageStore:
    def __init__(self, path: str, *, retention_days: int = 90) -> None:
        self.path = path
        self.retention_days = retention_days
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-sqlite")

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        private_file(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")  # the key store writes the same file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        self._add_columns(conn)
        self._create_key_monthly(conn)
        conn.execute("DELETE FROM usage_records WHERE expires_at < ?", (int(datetime.now(UTC).timestamp()),))
        self._conn = conn

    @staticmethod
    def _add_columns(conn: sqlite3.Connection) -> None:
        """Columns added after the first release: a database from before gets them (old rows: chat)."""
        present = {row[1] for row in conn.execute("PRAGMA table_info(usage_records)")}
        for name, ddl in (("route", "TEXT NOT NULL DEFAULT 'chat'"), ("session_id", "TEXT")):
            if name not in present:
                with contextlib.suppress(sqlite3.OperationalError):  # another replica just added it
                    conn.execute(f"ALTER TABLE usage_records ADD COLUMN {name} {ddl}")

    @staticmethod
    def _create_key_monthly(conn: sqlite3.Connection) -> None:
        # Checked under the write lock: replicas sharing the file may start together.
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage_key_monthly'").fetchone()
            if not exists:
                for statement in KEY_MONTHLY_SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("SQLiteUsageStore.start() was not awaited")
        return self._conn

    async def write_batch(self, records: Sequence[UsageRecord]) -> int:
        return await self._run(self._write, dedupe(records))

    def _write(self, records: list[UsageRecord]) -> int:
        conn = self.conn
        inserted = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for rec in records:
                if conn.execute(_INSERT_RAW, self._raw_row(rec)).rowcount != 1:
                    continue  # already stored: already counted
                inserted += 1
                conn.execute(_UPSERT_DAILY, (rec.team_id, rec.day, rec.model, rec.cost_center,
                                             *counters(rec).values()))
                conn.execute(_UPSERT_KEY_MONTHLY, (rec.team_id, rec.key_id, rec.period, rec.cost_nanos))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return inserted

    def _raw_row(self, rec: UsageRecord) -> tuple[Any, ...]:
        return (rec.request_id, rec.ts, rec.team_id, rec.key_id, rec.cost_center, rec.model,
                rec.bedrock_model_id, rec.prompt_tokens, rec.completion_tokens, rec.cached_tokens,
                rec.cache_write_tokens, rec.total_tokens, rec.cost_nanos, int(rec.priced),
                int(rec.estimated), rec.latency_ms, rec.status, int(rec.streaming),
                expires_at(rec.ts, self.retention_days), rec.route, rec.session_id)

    async def daily(self, team_id: str | None, start: date, end: date) -> list[DailyAggregate]:
        sql = (f"SELECT team_id, day, model, cost_center, {', '.join(COUNTERS)} FROM usage_daily "  # nosec B608
               "WHERE day BETWEEN ? AND ?")
        args: tuple[Any, ...] = (start.isoformat(), end.isoformat())
        if team_id is not None:
            sql += " AND team_id = ?"
            args += (team_id,)
        rows = await self._run(lambda: self.conn.execute(sql + " ORDER BY team_id, day, model", args)
                               .fetchall())
        return [DailyAggregate(*row) for row in rows]

    async def records(self, team_id: str, start_ts: str, end_ts: str) -> list[UsageRecord]:
        sql = (f"SELECT {', '.join(_RAW_COLUMNS)} FROM usage_records "  # nosec B608
               "WHERE team_id = ? AND ts >= ? AND ts < ? ORDER BY ts, request_id")
        rows = await self._run(lambda: self.conn.execute(sql, (team_id, start_ts, end_ts)).fetchall())
        return [_record(dict(zip(_RAW_COLUMNS, row, strict=True))) for row in rows]

    async def key_month_spend(self, team_id: str, key_id: str, period: str) -> int:
        sql = "SELECT cost_nanos FROM usage_key_monthly WHERE team_id = ? AND key_id = ? AND period = ?"
        row = await self._run(lambda: self.conn.execute(sql, (team_id, key_id, period)).fetchone())
        return int(row[0]) if row else 0

    async def claim_alert(self, alert_id: str, item: dict[str, str]) -> bool:
        def claim() -> bool:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO usage_budget_alerts (alert_id, created_at, body) VALUES (?, ?, ?)",
                (alert_id, datetime.now(UTC).isoformat(), orjson.dumps(item).decode()),
            )
            return cur.rowcount == 1

        return await self._run(claim)


def _record(row: dict[str, Any]) -> UsageRecord:
    row.pop("expires_at")
    row["cost_usd"] = from_nanos(row.pop("cost_nanos"))
    for flag in ("priced", "estimated", "streaming"):
        row[flag] = bool(row[flag])
    return UsageRecord(**row)
