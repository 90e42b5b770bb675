"""Auth-cache invalidation across replicas through Redis: a pub/sub message plus a version counter.

Publishing INCRs `llmgw:auth:version` and PUBLISHes "<version> <json>" atomically (one script). Replicas
apply messages as they come and poll the counter every 0.2 s: a version they never saw a message for
(pub/sub dropped or reconnected) clears their whole cache, so a revocation reaches them within ~1 s.

On a Redis Cluster the script runs on the master of the counter's slot, and its PUBLISH reaches the
subscribers of every node (classic pub/sub is broadcast over the cluster bus): a replica subscribes on
any one node, and on the next one in the cluster's node list when that one fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import MovedError

log = logging.getLogger("llm_gateway.auth")

CHANNEL = "llmgw:auth:invalidate"
VERSION_KEY = "llmgw:auth:version"
PUBLISH_SCRIPT = """
local v = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], v .. ' ' .. ARGV[2])
return v
"""
POLL_INTERVAL_S = 0.2
GAP_GRACE_S = 0.15  # a message may trail its INCR by a moment; only a longer gap means it was lost
UNHEALTHY_AFTER_S = 2.0

OnInvalidate = Callable[[str | None, str | None], None]


def encode(key_hash: str | None, team_id: str | None) -> str:
    return json.dumps({"key_hash": key_hash, "team_id": team_id})


def decode(data: bytes | str) -> tuple[int, str | None, str | None]:
    text = data.decode() if isinstance(data, bytes) else data
    version, _, body = text.partition(" ")
    fields = json.loads(body) if body else {}
    return int(version), fields.get("key_hash"), fields.get("team_id")


async def publish(redis: Any, key_hash: str | None, team_id: str | None) -> int:
    return int(await redis.eval(PUBLISH_SCRIPT, 1, VERSION_KEY, CHANNEL, encode(key_hash, team_id)))


def publish_sync(redis: Any, key_hash: str | None, team_id: str | None) -> int:
    """For the CLI, which talks to Redis with the blocking client (a plain one, even for a cluster)."""
    args = (PUBLISH_SCRIPT, 1, VERSION_KEY, CHANNEL, encode(key_hash, team_id))
    try:
        return int(redis.eval(*args))
    except MovedError as moved:  # a Redis Cluster node that does not serve the counter: ask the one that does
        pool = redis.connection_pool
        kwargs = {**pool.connection_kwargs, "host": moved.host, "port": moved.port}
        with type(redis).from_pool(type(pool)(connection_class=pool.connection_class, **kwargs)) as master:
            return int(master.eval(*args))


class InvalidationListener:
    """Subscribes to invalidations and watches the version counter; calls back into the cache owner."""

    def __init__(self, redis: Any, on_invalidate: OnInvalidate, on_reset: Callable[[], None]) -> None:
        self._redis = redis
        self._on_invalidate = on_invalidate
        self._on_reset = on_reset
        self._seen = 0
        self._lag_since: float | None = None
        self._last_ok = 0.0
        self._failures: dict[str, int] = {}  # consecutive failures per background check, for quiet logs
        self._subscriptions = 0  # on a cluster, the n-th subscription uses node n (mod the node count)
        self._tasks: list[asyncio.Task[None]] = []
        self.healthy = False  # read on the hot path: long cache TTL only while this is True

    async def start(self) -> None:
        """Subscribe now if Redis answers; otherwise keep trying in the background (never fails startup)."""
        pubsub = None
        try:
            pubsub = await self._subscribe()
            self._seen = await self._version()
            self._mark_ok()
        except Exception as exc:
            log.warning("auth invalidation: Redis unavailable at start (%s); retrying", type(exc).__name__)
        self._tasks = [asyncio.create_task(self._listen(pubsub)), asyncio.create_task(self._poll())]

    async def _subscribe(self) -> Any:
        pubsub = await self._pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        return pubsub

    async def _pubsub(self) -> Any:
        if not hasattr(self._redis, "get_nodes"):  # a single Redis
            return self._redis.pubsub(ignore_subscribe_messages=True)
        await self._redis.initialize()  # reads the slot table again after a failure, no-op otherwise
        nodes = sorted(self._redis.get_nodes(), key=lambda node: node.name)
        node = nodes[self._subscriptions % len(nodes)]
        self._subscriptions += 1
        return self._redis.pubsub(node=node, ignore_subscribe_messages=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self.healthy = False

    async def _version(self) -> int:
        raw = await self._redis.get(VERSION_KEY)
        return int(raw or 0)

    def _failed(self, what: str, exc: Exception) -> None:
        # Once per outage, not every poll (5 lines a second while Redis is down helps nobody).
        count = self._failures.get(what, 0)
        self._failures[what] = count + 1
        if count == 0:
            log.warning("auth %s failed: %s; retrying quietly until Redis answers", what, type(exc).__name__)

    def _recovered(self, what: str) -> None:
        count = self._failures.pop(what, 0)
        if count:
            log.warning("auth %s working again after %d failed attempt(s)", what, count)

    def _mark_ok(self) -> None:
        self._last_ok = time.monotonic()
        self.healthy = True

    async def _listen(self, pubsub: Any) -> None:
        try:
            while True:
                try:
                    if pubsub is None:
                        pubsub = await self._subscribe()
                        self._on_reset()  # whatever was published while we were away is unknown
                    message = await pubsub.get_message(timeout=1.0)
                except Exception as exc:  # connection lost: messages may be gone, start clean
                    self._failed("subscription", exc)
                    self._on_reset()
                    await _discard(pubsub)
                    pubsub = None
                    await asyncio.sleep(0.5)
                    continue
                self._recovered("subscription")
                if message is not None and message.get("type") == "message":
                    self._apply(message["data"])
        finally:
            await _discard(pubsub)

    def _apply(self, data: bytes | str) -> None:
        try:
            version, key_hash, team_id = decode(data)
        except ValueError:
            log.warning("ignoring malformed auth invalidation message")
            return
        if version > self._seen + 1:
            self._on_reset()  # we missed messages in between
        else:
            self._on_invalidate(key_hash, team_id)
        self._seen = max(self._seen, version)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            try:
                version = await self._version()
            except Exception as exc:
                self._failed("version check", exc)
                if time.monotonic() - self._last_ok > UNHEALTHY_AFTER_S:
                    self.healthy = False
                continue
            self._recovered("version check")
            was_healthy = self.healthy
            self._mark_ok()
            self._check(version, resync=not was_healthy)

    def _check(self, version: int, *, resync: bool) -> None:
        now = time.monotonic()
        if resync or version < self._seen:  # back from an outage, or the counter was reset
            self._on_reset()
            self._seen, self._lag_since = version, None
        elif version == self._seen:
            self._lag_since = None
        elif self._lag_since is None:
            self._lag_since = now
        elif now - self._lag_since >= GAP_GRACE_S:
            self._on_reset()
            self._seen, self._lag_since = version, None


async def _discard(pubsub: Any) -> None:
    if pubsub is not None:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
