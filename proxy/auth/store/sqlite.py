"""SQLite KeyStore: one file, WAL mode, tables `teams` and `api_keys`; calls run off the event loop.

One connection guarded by a lock, used from worker threads (asyncio.to_thread). Records are JSON
documents; the columns that are looked up (key_hash, key_id, team_id) are real indexed columns.
Other modules (usage) may keep their own tables in the same file; this store never touches them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from proxy.auth.principal import ApiKey, Team
from proxy.auth.store.base import (
    apply_key_changes,
    apply_team_changes,
    key_from_item,
    key_to_item,
    team_from_item,
    team_to_item,
)
from proxy.errors import Conflict, NotFound
from proxy.private_files import private_file

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS teams (team_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    team_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_team ON api_keys (team_id, created_at);
"""


def _dumps(item: dict[str, Any]) -> str:
    return json.dumps(item, default=lambda v: str(v) if isinstance(v, Decimal) else repr(v), sort_keys=True)


class SqliteKeyStore:
    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            private_file(self._path)
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._connect())

        return await asyncio.to_thread(locked)

    # --- keys ---------------------------------------------------------------------------------
    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._run(lambda c: _one_key(c, "key_hash", key_hash))

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._run(lambda c: _one_key(c, "key_id", key_id))

    async def list_keys(self, team_id: str | None = None) -> list[ApiKey]:
        def query(c: sqlite3.Connection) -> list[ApiKey]:
            if team_id is None:
                rows = c.execute("SELECT doc FROM api_keys ORDER BY created_at, key_id").fetchall()
            else:
                sql = "SELECT doc FROM api_keys WHERE team_id = ? ORDER BY created_at, key_id"
                rows = c.execute(sql, (team_id,)).fetchall()
            return [key_from_item(json.loads(row[0])) for row in rows]

        return await self._run(query)

    async def put_key(self, key: ApiKey) -> None:
        def insert(c: sqlite3.Connection) -> None:
            try:
                c.execute(
                    "INSERT INTO api_keys (key_hash, key_id, team_id, created_at, doc) VALUES (?,?,?,?,?)",
                    (key.key_hash, key.key_id, key.team_id, key.created_at, _dumps(key_to_item(key))),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"Key '{key.key_id}' already exists.", param="key_id") from None

        await self._run(insert)

    async def update_key(self, key_id: str, **changes: Any) -> ApiKey:
        def update(c: sqlite3.Connection) -> ApiKey:
            key = _one_key(c, "key_id", key_id)
            if key is None:
                raise NotFound(f"No key with id '{key_id}'.", param="key_id")
            key = apply_key_changes(key, changes)
            c.execute("UPDATE api_keys SET doc = ? WHERE key_id = ?", (_dumps(key_to_item(key)), key_id))
            return key

        return await self._run(update)

    async def touch_last_used(self, key_id: str, ts: str) -> None:
        def touch(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE api_keys SET doc = json_set(doc, '$.last_used_at', ?) WHERE key_id = ?", (ts, key_id)
            )

        await self._run(touch)

    # --- teams --------------------------------------------------------------------------------
    async def get_team(self, team_id: str) -> Team | None:
        return await self._run(lambda c: _one_team(c, team_id))

    async def list_teams(self) -> list[Team]:
        def query(c: sqlite3.Connection) -> list[Team]:
            rows = c.execute("SELECT doc FROM teams ORDER BY team_id").fetchall()
            return [team_from_item(json.loads(row[0])) for row in rows]

        return await self._run(query)

    async def put_team(self, team: Team) -> None:
        def insert(c: sqlite3.Connection) -> None:
            try:
                c.execute(
                    "INSERT INTO teams (team_id, doc) VALUES (?, ?)",
                    (team.team_id, _dumps(team_to_item(team))),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"Team '{team.team_id}' already exists.", param="team_id") from None

        await self._run(insert)

    async def update_team(self, team_id: str, **changes: Any) -> Team:
        def update(c: sqlite3.Connection) -> Team:
            team = _one_team(c, team_id)
            if team is None:
                raise NotFound(f"No team with id '{team_id}'.", param="team_id")
            team = apply_team_changes(team, changes)
            c.execute("UPDATE teams SET doc = ? WHERE team_id = ?", (_dumps(team_to_item(team)), team_id))
            return team

        return await self._run(update)

    async def delete_team(self, team_id: str) -> list[ApiKey]:
        def delete(c: sqlite3.Connection) -> list[ApiKey]:
            if _one_team(c, team_id) is None:
                raise NotFound(f"No team with id '{team_id}'.", param="team_id")
            rows = c.execute("SELECT doc FROM api_keys WHERE team_id = ?", (team_id,)).fetchall()
            revoked = [
                apply_key_changes(key_from_item(json.loads(r[0])), {"status": "revoked"}) for r in rows
            ]
            c.execute("BEGIN IMMEDIATE")
            try:
                for key in revoked:
                    c.execute(
                        "UPDATE api_keys SET doc = ? WHERE key_id = ?", (_dumps(key_to_item(key)), key.key_id)
                    )
                c.execute("DELETE FROM teams WHERE team_id = ?", (team_id,))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return revoked

        return await self._run(delete)

    async def create_tables(self) -> None:
        await self._run(lambda c: None)  # connecting creates the schema

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(close)


def _one_key(c: sqlite3.Connection, column: str, value: str) -> ApiKey | None:
    # column is one of two literals chosen by this module, never caller input
    row = c.execute(f"SELECT doc FROM api_keys WHERE {column} = ?", (value,)).fetchone()  # nosec B608
    return None if row is None else key_from_item(json.loads(row[0]))


def _one_team(c: sqlite3.Connection, team_id: str) -> Team | None:
    row = c.execute("SELECT doc FROM teams WHERE team_id = ?", (team_id,)).fetchone()
    return None if row is None else team_from_item(json.loads(row[0]))
