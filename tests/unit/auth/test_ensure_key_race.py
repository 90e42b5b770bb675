"""Replicas starting together all call ensure_key for LLM_GATEWAY_DEMO_KEY: every one must succeed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from proxy.auth import ops as keyops
from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.settings import Settings


async def test_concurrent_ensure_key_yields_one_key(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    stores = [SqliteKeyStore(str(tmp_path / "keys.db")) for _ in range(4)]
    await stores[0].create_tables()
    keys = await asyncio.gather(*(
        keyops.ensure_key(store, settings, "sk-demo-" + "x" * 30, team_id="demo", team_name="Demo")
        for store in stores
    ))
    assert len({key.key_id for key in keys}) == 1
    assert len(await stores[0].list_keys("demo")) == 1
    for store in stores:
        await store.close()
