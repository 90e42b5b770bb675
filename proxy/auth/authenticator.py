"""Authenticator: API key -> Principal on the hot path, with a bounded in-process cache.

Warm keys cost one HMAC and a dict lookup. Unknown keys are negatively cached, concurrent lookups of
one key share a single store read, and a lookup that raced an invalidation never writes the cache.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proxy.auth import invalidation as auth_sync
from proxy.auth.principal import ApiKey, Principal, Team
from proxy.auth.secrets import SECRET_PREFIX, KeyHasher, mask
from proxy.auth.store.base import KeyStore, now_iso
from proxy.auth.throttle import FailureThrottle
from proxy.errors import AuthenticationFailed, UpstreamUnavailable
from proxy.settings import Settings

log = logging.getLogger("llm_gateway.auth")

MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or in an x-api-key header."
)
POSITIVE_MAX = 10_000
NEGATIVE_MAX = 10_000
TOUCHED_MAX = 10_000
REDIS_TTL_S = 60.0  # with Redis, invalidation is pushed; the TTL only bounds a lost broadcast
STALE_IF_ERROR_S = 300.0  # a cached key keeps working this long while the store is down
TOUCH_INTERVAL_S = 60.0
COLD_LOOKUP_CONCURRENCY = 32


@dataclass(slots=True)
class _Entry:
    principal: Principal
    loaded_at: float
    expires_wall: float | None  # the key's own expiry, epoch seconds


def extract_secret(headers: Mapping[str, str]) -> str:
    """`Authorization: Bearer <key>` (what the OpenAI SDKs send) or `x-api-key: <key>`."""
    auth = headers.get("authorization") or headers.get("Authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key") or headers.get("X-Api-Key")
    if key and key.strip():
        return key.strip()
    raise AuthenticationFailed(MISSING_KEY_MESSAGE)


def invalid_key(secret: str) -> AuthenticationFailed:
    # one message for unknown, revoked and expired keys: nobody learns whether a key ever existed
    return AuthenticationFailed(
        f"Incorrect API key provided: {mask(secret)}. Ask your gateway administrator for a valid key."
    )


def parse_expiry(expires_at: str | None) -> float | None:
    return None if not expires_at else datetime.fromisoformat(expires_at).timestamp()


def build_principal(key: ApiKey, team: Team) -> Principal:
    if key.allowed_models is None or team.allowed_models is None:
        models = key.allowed_models if team.allowed_models is None else team.allowed_models
    else:
        models = key.allowed_models & team.allowed_models
    return Principal(
        team_id=team.team_id,
        team_name=team.team_name,
        key_id=key.key_id,
        cost_center=team.cost_center,
        team_limits=team.limits,
        key_limits=key.limits,
        team_budget_usd=team.monthly_budget_usd,
        key_budget_usd=key.monthly_budget_usd,
        allowed_models=models,
    )


class Authenticator:
    def __init__(
        self,
        store: KeyStore,
        settings: Settings,
        redis: Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        *,
        hasher: KeyHasher | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._redis = redis
        self._clock = clock
        self._wall = wall_clock
        self._hasher = hasher or KeyHasher(settings.key_pepper)  # the composition root passes its one
        self.throttle = FailureThrottle(settings.key_failures_per_minute)
        # Keys not in the gateway's checksummed format exist only as imports of LLM_GATEWAY_DEMO_KEY, so
        # any other such secret is refused without a store read: a flood of random keys costs no I/O.
        self._imported = frozenset({self._hasher.hash(settings.demo_key)} if settings.demo_key else ())
        self._positive: OrderedDict[str, _Entry] = OrderedDict()
        self._negative: OrderedDict[str, float] = OrderedDict()
        self._inflight: dict[str, tuple[int, asyncio.Task[_Entry | None]]] = {}
        self._generation = 0
        self._touched: OrderedDict[str, float] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()
        self._cold = asyncio.Semaphore(COLD_LOOKUP_CONCURRENCY)
        self._listener = (
            auth_sync.InvalidationListener(redis, self._drop, self._drop_all) if redis is not None else None
        )

    @property
    def hasher(self) -> KeyHasher:
        return self._hasher

    async def start(self) -> None:
        if self._listener is not None:
            await self._listener.start()

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        if self._background:  # let pending last-used writes land
            await asyncio.wait(self._background, timeout=2.0)

    @property
    def cache_sizes(self) -> tuple[int, int]:
        return len(self._positive), len(self._negative)

    def _ttl(self) -> float:
        if self._listener is not None and self._listener.healthy:
            return REDIS_TTL_S
        return self._settings.auth_cache_ttl_s

    async def authenticate(self, headers: Mapping[str, str], client: str | None = None) -> Principal:
        """``client``: the caller's address, for the failed-attempt throttle (proxy/auth/throttle.py)."""
        secret = extract_secret(headers)
        key_hash = self._hasher.hash(secret)
        now = self._clock()
        entry = self._positive.get(key_hash)
        if entry is not None:
            if entry.expires_wall is not None and entry.expires_wall <= self._wall():
                raise invalid_key(secret)
            if now - entry.loaded_at < self._ttl():
                self._touch(entry.principal.key_id, now)
                return entry.principal
        else:
            negative_until = self._negative.get(key_hash)
            if negative_until is not None and negative_until > now:
                raise invalid_key(secret)
            if not self._plausible(secret, key_hash):
                raise invalid_key(secret)
            self.throttle.check(client)  # this key would cost a store read
        fresh = await self._lookup(key_hash, entry)
        if fresh is None:
            self.throttle.failed(client)
            raise invalid_key(secret)
        self._touch(fresh.principal.key_id, now)
        return fresh.principal

    def _plausible(self, secret: str, key_hash: str) -> bool:
        if secret.startswith(SECRET_PREFIX):
            return self._hasher.plausible(secret)
        return key_hash in self._imported

    async def _lookup(self, key_hash: str, stale: _Entry | None) -> _Entry | None:
        generation = self._generation
        flight = self._inflight.get(key_hash)
        if flight is None or flight[0] != generation:  # never join a read that began before a change
            task = asyncio.create_task(self._load(key_hash, generation))
            flight = (generation, task)
            self._inflight[key_hash] = flight
            task.add_done_callback(functools.partial(self._landed, key_hash, flight))
        try:
            return await asyncio.shield(flight[1])
        except UpstreamUnavailable:
            if stale is not None and self._clock() - stale.loaded_at < STALE_IF_ERROR_S:
                return stale  # invalidation deletes entries, so a stale one was never revoked
            raise

    def _landed(self, key_hash: str, flight: tuple[int, Any], task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key_hash) is flight:
            del self._inflight[key_hash]
        if not task.cancelled():
            task.exception()  # retrieved here so an abandoned failure is not reported as unhandled

    async def _load(self, key_hash: str, generation: int) -> _Entry | None:
        try:
            async with self._cold:
                key = await self._store.get_key_by_hash(key_hash)
                usable = key is not None and key.status == "active"
                team = await self._store.get_team(key.team_id) if key is not None and usable else None
        except Exception as exc:
            log.error("key store lookup failed: %s", type(exc).__name__)
            raise UpstreamUnavailable("Authentication is temporarily unavailable; retry shortly.") from None
        entry = self._entry(key, team)
        if generation == self._generation:  # an invalidation since the read began voids its result
            self._remember(key_hash, entry)
        return entry

    def _entry(self, key: ApiKey | None, team: Team | None) -> _Entry | None:
        if key is None or team is None or key.status != "active":
            return None
        expires = parse_expiry(key.expires_at)
        if expires is not None and expires <= self._wall():
            return None
        return _Entry(build_principal(key, team), self._clock(), expires)

    def _remember(self, key_hash: str, entry: _Entry | None) -> None:
        if entry is None:
            self._negative[key_hash] = self._clock() + self._settings.auth_negative_cache_ttl_s
            self._negative.move_to_end(key_hash)
            if len(self._negative) > NEGATIVE_MAX:
                self._negative.popitem(last=False)
            return
        self._negative.pop(key_hash, None)
        self._positive[key_hash] = entry
        self._positive.move_to_end(key_hash)
        if len(self._positive) > POSITIVE_MAX:
            self._positive.popitem(last=False)

    # --- invalidation ---------------------------------------------------------------------------
    async def invalidate(self, *, key_hash: str | None = None, team_id: str | None = None) -> None:
        """Drop cached entries here now, and on every replica through Redis when configured.

        Without arguments everything is dropped.
        """
        self._drop(key_hash, team_id)
        if self._redis is None:
            return
        try:
            await auth_sync.publish(self._redis, key_hash, team_id)
        except Exception as exc:
            # replicas still drop the entry within REDIS_TTL_S, or sooner once their poll fails
            log.error("auth invalidation broadcast failed: %s", type(exc).__name__)

    def _drop(self, key_hash: str | None, team_id: str | None) -> None:
        self._generation += 1
        if key_hash is None and team_id is None:
            self._drop_all()
            return
        if key_hash is not None:
            self._positive.pop(key_hash, None)
            self._negative.pop(key_hash, None)
        if team_id is not None:
            for h in [h for h, e in self._positive.items() if e.principal.team_id == team_id]:
                del self._positive[h]
            self._negative.clear()  # a team coming back may make its keys valid again

    def _drop_all(self) -> None:
        self._generation += 1
        self._positive.clear()
        self._negative.clear()

    # --- last used ------------------------------------------------------------------------------
    def _touch(self, key_id: str, now: float) -> None:
        last = self._touched.get(key_id)
        if last is not None and now - last < TOUCH_INTERVAL_S:
            return
        self._touched[key_id] = now
        self._touched.move_to_end(key_id)
        if len(self._touched) > TOUCHED_MAX:
            self._touched.popitem(last=False)
        task = asyncio.create_task(self._write_last_used(key_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _write_last_used(self, key_id: str) -> None:
        try:
            await self._store.touch_last_used(key_id, now_iso())
        except Exception as exc:  # best effort: never fails a request
            log.warning("last_used_at update failed for %s: %s", key_id, type(exc).__name__)
