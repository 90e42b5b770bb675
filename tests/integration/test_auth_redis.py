"""Auth-cache invalidation across replicas through the real Redis: revocations land within 1 s."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from proxy.auth import invalidation as auth_sync
from proxy.auth import ops as keyops
from proxy.auth.authenticator import REDIS_TTL_S, Authenticator
from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.cli.keys import register
from proxy.errors import AuthenticationFailed
from proxy.settings import Settings

pytestmark = pytest.mark.integration


class Replica:
    """One gateway process's view: its own store connection, Redis client and Authenticator."""

    def __init__(self, settings: Settings) -> None:
        self.store = SqliteKeyStore(settings.sqlite_path)
        self.redis = aioredis.Redis.from_url(settings.redis_url)
        self.auth = Authenticator(self.store, settings, self.redis)

    async def accepts(self, secret: str) -> bool:
        try:
            await self.auth.authenticate({"authorization": f"Bearer {secret}"})
        except AuthenticationFailed:
            return False
        return True

    async def close(self) -> None:
        await self.auth.close()
        await self.redis.aclose()
        await self.store.close()


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return Settings.from_env({}, sqlite_path=str(tmp_path / "gw.db"), redis_url=redis_url, key_pepper="p")


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[tuple[Replica, Replica]]:
    a, b = Replica(settings), Replica(settings)
    await a.auth.start()
    await b.auth.start()
    yield a, b
    await a.close()
    await b.close()


async def _new_key(replica: Replica, settings: Settings) -> tuple[str, str]:
    store = replica.store
    if await store.get_team("acme") is None:
        await keyops.create_team(store, keyops.new_team({"team_id": "acme", "team_name": "Acme"}, settings))
    key, secret = await keyops.create_key(store, settings, {"team_id": "acme"})
    return key.key_id, secret


async def _seconds_until_rejected(replica: Replica, secret: str, limit: float = 3.0) -> float:
    started = time.monotonic()
    while await replica.accepts(secret):
        if time.monotonic() - started > limit:
            pytest.fail(f"still accepted after {limit}s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_revocation_reaches_the_other_replica_within_a_second(replicas, settings) -> None:
    a, b = replicas
    key_id, secret = await _new_key(a, settings)
    assert await a.accepts(secret) and await b.accepts(secret)
    assert b.auth._ttl() == REDIS_TTL_S  # B would otherwise serve its cached entry for a minute
    await keyops.revoke_key(a.store, key_id, a.auth.invalidate)
    assert not await a.accepts(secret)  # immediately in the process that revoked
    elapsed = await _seconds_until_rejected(b, secret)
    print(f"\nrevocation visible on the other replica after {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0


async def test_lost_message_is_caught_by_the_version_counter(replicas, settings) -> None:
    a, b = replicas
    key_id, secret = await _new_key(a, settings)
    assert await b.accepts(secret)
    await a.store.update_key(key_id, status="revoked")
    await a.redis.incr(auth_sync.VERSION_KEY)  # a change whose pub/sub message never arrived
    elapsed = await _seconds_until_rejected(b, secret)
    print(f"\nmissed message detected after {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0


async def test_team_change_reaches_the_other_replica(replicas, settings) -> None:
    a, b = replicas
    _, secret = await _new_key(a, settings)
    assert await b.accepts(secret)
    await keyops.delete_team(a.store, "acme", a.auth.invalidate)
    assert await _seconds_until_rejected(b, secret) < 1.0


async def test_cli_revocation_reaches_a_running_gateway(replicas, settings, monkeypatch) -> None:
    _, b = replicas
    key_id, secret = await _new_key(b, settings)
    assert await b.accepts(secret)
    monkeypatch.setenv("LLM_GATEWAY_SQLITE_PATH", settings.sqlite_path)
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    root = argparse.ArgumentParser()
    register(root.add_subparsers(required=True))
    args = root.parse_args(["keys", "revoke", key_id, "--json"])
    assert await asyncio.to_thread(args.func, args) == 0
    assert await _seconds_until_rejected(b, secret) < 1.0


async def test_start_survives_redis_being_down(tmp_path: Path) -> None:
    settings = Settings.from_env({}, sqlite_path=str(tmp_path / "gw.db"), redis_url="redis://127.0.0.1:1/0")
    replica = Replica(settings)
    await replica.auth.start()
    assert replica.auth._ttl() == settings.auth_cache_ttl_s  # short local TTL while Redis is unreachable
    _, secret = await _new_key(replica, settings)
    assert await replica.accepts(secret)
    await replica.close()
