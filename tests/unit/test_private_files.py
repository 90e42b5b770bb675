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


async def test_making_the_database_private_never_drops_sqlites_locks(tmp_path: Path) -> None:
    """Regression: opening and closing the db file while SQLite had it open dropped the process's POSIX
    locks; a reader in another process then deleted the -wal the gateway kept writing to (records lost
    from view until the gateway closed)."""
    import subprocess
    import sys
    from decimal import Decimal

    from proxy.usage.store.base import UsageRecord

    db = tmp_path / "gateway.db"
    keys = SqliteKeyStore(str(db))
    await keys.create_tables()  # the key store opens the file first, as at startup
    usage = SQLiteUsageStore(str(db), retention_days=1)
    await usage.start()  # ... then the usage store makes it private

    def record(i: int) -> UsageRecord:
        return UsageRecord(request_id=f"r{i}", ts="2026-12-01T00:00:00+00:00", team_id="t", key_id="k",
                           model="m", bedrock_model_id="b", cost_usd=Decimal(0))

    def rows_seen_elsewhere() -> int:
        code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "print(c.execute('select count(*) from usage_records').fetchone()[0]); c.close()")
        return int(subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True,
                                  check=True).stdout)

    await usage.write_batch([record(1)])
    assert rows_seen_elsewhere() == 1  # that reader closes last on its side: it must not take the WAL away
    await usage.write_batch([record(2)])
    assert (tmp_path / "gateway.db-wal").exists()
    assert rows_seen_elsewhere() == 2
    await usage.close()
    await keys.close()
