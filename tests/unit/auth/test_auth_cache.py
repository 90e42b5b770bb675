"""Authenticator cache: warm hits cost no store read, negative cache, single flight, no resurrection."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from proxy.auth import authenticator as auth_module
from proxy.auth import ops as keyops
from proxy.auth.authenticator import TOUCH_INTERVAL_S, Authenticator
from proxy.auth.secrets import KeyHasher
from proxy.errors import AuthenticationFailed, UpstreamUnavailable
from proxy.settings import Settings

from .keys_fakes import FakeClock, make_key


def unknown_key(settings: Settings) -> str:
    """A key in the gateway's format with a valid checksum that was never issued: only the store can tell."""
    return KeyHasher(settings.key_pepper).new_secret()


async def _rejected(auth: Authenticator, secret: str) -> bool:
    try:
        await auth.authenticate({"authorization": f"Bearer {secret}"})
    except AuthenticationFailed:
        return True
    return False


async def test_warm_cache_does_zero_store_reads(store, settings) -> None:
    _, secret = await make_key(store, settings)
    auth = Authenticator(store, settings)
    await auth.authenticate({"x-api-key": secret})
    store.reads = 0
    for _ in range(1000):
        await auth.authenticate({"x-api-key": secret})
    assert store.reads == 0


async def test_positive_entries_expire_after_the_ttl_without_redis(store, settings) -> None:
    _, secret = await make_key(store, settings)
    clock = FakeClock()
    auth = Authenticator(store, settings, clock=clock)
    await auth.authenticate({"x-api-key": secret})
    store.reads = 0
    clock.now += settings.auth_cache_ttl_s - 0.1
    await auth.authenticate({"x-api-key": secret})
    assert store.reads == 0
    clock.now += 0.2
    await auth.authenticate({"x-api-key": secret})
    assert store.reads == 2  # key + team


async def test_flood_of_random_gateway_keys_never_reaches_the_store(store, settings) -> None:
    auth = Authenticator(store, settings)
    for _ in range(10_000):
        assert await _rejected(auth, "sk-gw-" + secrets.token_urlsafe(40)[:54])
    print(f"\n10,000 random sk-gw- keys -> {store.reads} store reads")
    assert store.reads == 0


async def test_flood_of_repeated_bad_keys_reads_each_once(store, settings) -> None:
    auth = Authenticator(store, settings)
    pool = [unknown_key(settings) for _ in range(200)]  # well-formed, checksummed, never issued
    for i in range(10_000):
        assert await _rejected(auth, pool[i % len(pool)])
    print(f"\n10,000 requests over {len(pool)} distinct bad keys -> {store.reads} store reads")
    assert store.reads == len(pool)


async def test_negative_cache_is_bounded(store, settings, monkeypatch) -> None:
    monkeypatch.setattr(auth_module, "NEGATIVE_MAX", 100)
    auth = Authenticator(store, settings)
    for _ in range(10_000):
        assert await _rejected(auth, unknown_key(settings))
    positive, negative = auth.cache_sizes
    print(f"\n10,000 distinct non-gateway-format keys -> {store.reads} reads, negative cache {negative}")
    assert negative <= 100 and positive == 0


async def test_flood_of_random_keys_in_any_other_format_never_reaches_the_store(store, settings) -> None:
    auth = Authenticator(store, settings)
    for _ in range(10_000):
        assert await _rejected(auth, f"legacy-{secrets.token_hex(16)}")
    print(f"\n10,000 random non-gateway-format keys -> {store.reads} store reads")
    assert store.reads == 0 and auth.cache_sizes == (0, 0)


async def test_negative_entries_expire(store, settings) -> None:
    clock = FakeClock()
    auth = Authenticator(store, settings, clock=clock)
    never_issued = unknown_key(settings)
    assert await _rejected(auth, never_issued)
    assert await _rejected(auth, never_issued)
    assert store.reads == 1
    clock.now += settings.auth_negative_cache_ttl_s + 0.1
    assert await _rejected(auth, never_issued)
    assert store.reads == 2


async def test_concurrent_lookups_of_one_key_share_one_read(store, settings) -> None:
    _, secret = await make_key(store, settings)
    auth = Authenticator(store, settings)
    store.reads, store.delay = 0, 0.05
    results = await asyncio.gather(*(auth.authenticate({"x-api-key": secret}) for _ in range(50)))
    assert len({p.key_id for p in results}) == 1
    assert store.reads == 2  # one key read + one team read
    store.reads = 0
    never_issued = unknown_key(settings)
    rejected = await asyncio.gather(*(_rejected(auth, never_issued) for _ in range(50)))
    assert all(rejected) and store.reads == 1


async def test_in_flight_lookup_does_not_resurrect_a_revoked_key(store, settings) -> None:
    key, secret = await make_key(store, settings)
    auth = Authenticator(store, settings)
    store.delay_after = 0.1  # the read returns the active key, then lands after the revocation
    in_flight = asyncio.create_task(auth.authenticate({"x-api-key": secret}))
    await asyncio.sleep(0.03)
    await keyops.revoke_key(store, key.key_id, auth.invalidate)
    await in_flight  # began before the revocation: may pass, but must not be cached
    store.delay_after = 0.0
    assert await _rejected(auth, secret)


async def test_joiners_after_an_invalidation_do_not_share_the_old_read(store, settings) -> None:
    key, secret = await make_key(store, settings)
    auth = Authenticator(store, settings)
    store.delay_after = 0.1
    first = asyncio.create_task(auth.authenticate({"x-api-key": secret}))
    await asyncio.sleep(0.03)
    await keyops.revoke_key(store, key.key_id, auth.invalidate)
    store.delay_after = 0.0
    assert await _rejected(auth, secret)
    await first


async def test_cached_key_survives_a_store_outage(store, settings) -> None:
    _, secret = await make_key(store, settings)
    clock = FakeClock()
    auth = Authenticator(store, settings, clock=clock)
    await auth.authenticate({"x-api-key": secret})
    clock.now += settings.auth_cache_ttl_s + 1
    store.fail = True
    assert (await auth.authenticate({"x-api-key": secret})).team_id == "acme"
    with pytest.raises(UpstreamUnavailable):
        await auth.authenticate({"x-api-key": unknown_key(settings)})


async def test_last_used_is_written_in_the_background_and_throttled(store, settings) -> None:
    key, secret = await make_key(store, settings)
    clock = FakeClock()
    auth = Authenticator(store, settings, clock=clock)
    for _ in range(100):
        await auth.authenticate({"x-api-key": secret})
    await asyncio.sleep(0.05)
    assert store.touches == [key.key_id]
    clock.now += TOUCH_INTERVAL_S + 1
    await auth.authenticate({"x-api-key": secret})
    await auth.close()
    assert store.touches == [key.key_id, key.key_id]
    assert (await store.get_key(key.key_id)).last_used_at is not None


async def test_team_change_reaches_cached_principals(store, settings) -> None:
    _, secret = await make_key(store, settings)
    auth = Authenticator(store, settings)
    assert (await auth.authenticate({"x-api-key": secret})).team_limits.rpm == settings.default_rpm
    await keyops.update_team(store, "acme", {"limits": {"rpm": 5}}, auth.invalidate)
    assert (await auth.authenticate({"x-api-key": secret})).team_limits.rpm == 5
