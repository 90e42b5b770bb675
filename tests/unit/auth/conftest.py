"""Fixtures for key/auth tests: a real SQLite store wrapped to count (and slow or break) reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.settings import Settings

from .keys_fakes import CountingStore


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"sqlite_path": str(tmp_path / "gw.db"), "key_pepper": "test-pepper"}
    values.update(overrides)
    return Settings.from_env({}, **values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[CountingStore]:
    inner = SqliteKeyStore(settings.sqlite_path)
    await inner.create_tables()
    yield CountingStore(inner)
    await inner.close()
