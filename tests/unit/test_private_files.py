"""Hardening (Low): the database and the usage spool are readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.usage.spool import Spool
from proxy.usage.store.sqlite import SQLiteUsageStore


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_stores_and_spools_are_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a typical umask: files would be 0644
    try:
        db = tmp_path / "data" / "gateway.db"
        keys = SqliteKeyStore(str(db))
        await keys.create_tables()
        usage = SQLiteUsageStore(str(db), retention_days=1)
        await usage.start()
        spool = Spool.create(str(tmp_path / "spool"))
        assert mode(db) == 0o600
        assert all(mode(p) == 0o600 for p in db.parent.glob("gateway.db*"))  # -wal and -shm too
        assert mode(spool.path) == 0o600 and mode(tmp_path / "spool") == 0o700
        spool.release(delete=True)
        await usage.close()
        await keys.close()
    finally:
        os.umask(old)


async def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch()
    os.chmod(db, 0o644)
    keys = SqliteKeyStore(str(db))
    await keys.create_tables()
    assert mode(db) == 0o600
    await keys.close()
