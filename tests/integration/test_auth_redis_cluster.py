"""Auth-cache invalidation on a real 3-master Redis Cluster: a PUBLISH on the counter's master reaches
a replica subscribed on another node, the CLI's plain client follows MOVED, and a subscriber whose node
dies moves to the next one and keeps receiving.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.auth import invalidation as auth_sync
from proxy.auth import ops as keyops
from proxy.auth.authenticator import REDIS_TTL_S, Authenticator
from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.cli.keys import register
from proxy.errors import AuthenticationFailed
from proxy.services import redis_client
from proxy.settings import Settings
from tests.conftest import ClusterFactory
from tests.integration.test_auth_redis import _new_key, _seconds_until_rejected
from tests.redis_cluster import LoopbackCluster

pytestmark = pytest.mark.integration


class ClusterReplica:
    """One gateway process's view, with the cluster client the gateway builds (LLM_GATEWAY_REDIS_CLUSTER)."""

    def __init__(self, settings: Settings) -> None:
        self.store = SqliteKeyStore(settings.sqlite_path)
        self.redis = redis_client(settings)
        self.auth = Authenticator(self.store, settings, self.redis)
        self.resets = 0
        listener = self.auth._listener
        assert listener is not None
        self.listener = listener
        reset = listener._on_reset

        def counted_reset() -> None:
            self.resets += 1
            reset()

        listener._on_reset = counted_reset

    async def start_subscribed_on(self, cluster: LoopbackCluster, port: int) -> None:
        """Subscribes on the node `port` (the listener takes the nodes in name order)."""
        names = sorted(f"127.0.0.1:{p}" for p in cluster.ports)
        self.listener._subscriptions = names.index(f"127.0.0.1:{port}")
        await self.auth.start()
        assert self.listener.healthy

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


def cluster_settings(tmp_path: Path, url: str) -> Settings:
    return Settings.from_env({}, sqlite_path=str(tmp_path / "gw.db"), redis_url=url, redis_cluster=True,
                             key_pepper="p")


def other_than_counter(cluster: LoopbackCluster) -> int:
    """A master that does not hold the version counter: messages must cross the cluster bus to it."""
    counter = cluster.master_of(auth_sync.VERSION_KEY)
    return next(p for p in cluster.ports if p != counter)


@pytest.fixture
async def replicas(
    tmp_path: Path, redis_cluster: LoopbackCluster
) -> AsyncIterator[tuple[ClusterReplica, ClusterReplica]]:
    settings = cluster_settings(tmp_path, redis_cluster.url)
    a, b = ClusterReplica(settings), ClusterReplica(settings)
    await a.auth.start()
    await b.start_subscribed_on(redis_cluster, other_than_counter(redis_cluster))
    yield a, b
    await a.close()
    await b.close()


async def test_revocation_crosses_the_cluster_bus(replicas, tmp_path: Path) -> None:
    a, b = replicas
    settings = cluster_settings(tmp_path, "")
    key_id, secret = await _new_key(a, settings)
    assert await a.accepts(secret) and await b.accepts(secret)
    assert b.auth._ttl() == REDIS_TTL_S  # B would otherwise serve its cached entry for a minute
    await keyops.revoke_key(a.store, key_id, a.auth.invalidate)
    elapsed = await _seconds_until_rejected(b, secret)
    print(f"\nrevocation visible on the other replica after {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0
    assert b.resets == 0  # by the message itself, not by the version counter's gap detection


async def test_cli_revocation_through_a_node_without_the_counter(
    replicas, tmp_path: Path, redis_cluster: LoopbackCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, b = replicas
    settings = cluster_settings(tmp_path, "")
    key_id, secret = await _new_key(b, settings)
    assert await b.accepts(secret)
    monkeypatch.setenv("LLM_GATEWAY_SQLITE_PATH", settings.sqlite_path)
    # The CLI's plain client on a node that answers MOVED for the counter: it follows the redirect once.
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{other_than_counter(redis_cluster)}/0")
    root = argparse.ArgumentParser()
    register(root.add_subparsers(required=True))
    args = root.parse_args(["keys", "revoke", key_id, "--json"])
    assert await asyncio.to_thread(args.func, args) == 0
    assert await _seconds_until_rejected(b, secret) < 1.0
    assert b.resets == 0


async def test_subscriber_moves_to_another_node_when_its_node_dies(
    tmp_path: Path, start_redis_cluster: ClusterFactory
) -> None:
    cluster = start_redis_cluster(full_coverage=False, node_timeout_ms=1000)  # its own: a node is killed
    settings = cluster_settings(tmp_path, cluster.url)
    a, b = ClusterReplica(settings), ClusterReplica(settings)
    victim = other_than_counter(cluster)
    try:
        await a.auth.start()
        await b.start_subscribed_on(cluster, victim)
        subscriptions = b.listener._subscriptions
        cluster.kill(victim)
        started = time.monotonic()
        while b.listener._subscriptions == subscriptions or b.listener._failures:
            assert time.monotonic() - started < 5, "the listener never subscribed again"
            await asyncio.sleep(0.05)
        print(f"\nsubscribed on another node {time.monotonic() - started:.2f} s after its node died")
        await asyncio.sleep(0.3)  # let the reset of the lost subscription land before counting
        key_id, secret = await _new_key(a, settings)  # type: ignore[arg-type]
        assert await b.accepts(secret)
        resets = b.resets
        await keyops.revoke_key(a.store, key_id, a.auth.invalidate)
        assert await _seconds_until_rejected(b, secret) < 1.0  # type: ignore[arg-type]
        assert b.resets == resets  # the new subscription delivered the message
    finally:
        await a.close()
        await b.close()
        cluster.stop()
