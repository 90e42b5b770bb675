"""Test doubles for key/auth tests."""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.auth.store.sqlite import SqliteKeyStore


class CountingStore:
    """Delegates to a real store; counts hot-path reads; can delay or fail them on demand."""

    def __init__(self, inner: SqliteKeyStore) -> None:
        self.inner = inner
        self.reads = 0
        self.delay = 0.0
        self.fail = False
        self.delay_after = 0.0  # read first, then wait: the result is stale by the time it lands
        self.touches: list[str] = []

    async def get_key_by_hash(self, key_hash: str) -> Any:
        self.reads += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("store down")
        key = await self.inner.get_key_by_hash(key_hash)
        if self.delay_after:
            await asyncio.sleep(self.delay_after)
        return key

    async def get_team(self, team_id: str) -> Any:
        self.reads += 1
        return await self.inner.get_team(team_id)

    async def touch_last_used(self, key_id: str, ts: str) -> None:
        self.touches.append(key_id)
        await self.inner.touch_last_used(key_id, ts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def make_key(store: Any, settings: Any, team_id: str = "acme", **fields: Any) -> tuple[Any, str]:
    """Create the team if needed, then a key; returns (ApiKey, secret)."""
    from proxy.auth import ops as keyops

    if await store.get_team(team_id) is None:
        await keyops.create_team(store, keyops.new_team({"team_id": team_id, "team_name": team_id}, settings))
    return await keyops.create_key(store, settings, {"team_id": team_id, **fields})
