"""Hardening #10: failed attempts are throttled per client address; valid keys are never slowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.auth.admin_key import AdminGuard, weak_admin_key
from proxy.auth.authenticator import Authenticator
from proxy.auth.throttle import WINDOW_S, FailureThrottle
from proxy.errors import AuthenticationFailed, PermissionDenied, RateLimited

from .conftest import make_settings

ADMIN = "x7Kq2mZpL9vR4tYw8NcB1dFgH3jS6aEu"  # 32 random characters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_weak_admin_keys_are_named() -> None:
    assert weak_admin_key(None) is None and weak_admin_key(ADMIN) is None
    assert "at least 32" in (weak_admin_key("a") or "")
    assert "documented" in (weak_admin_key("a" * 40) or "")  # a repetition


def test_an_address_over_its_failures_is_refused_for_the_rest_of_the_minute() -> None:
    clock = Clock()
    throttle = FailureThrottle(3, clock=clock)
    for _ in range(3):
        throttle.check("10.0.0.1")
        throttle.failed("10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        throttle.check("10.0.0.1")
    assert refused.value.code == "too_many_failed_attempts" and 1 <= int(refused.value.headers["retry-after"]) <= 60
    throttle.check("10.0.0.2")  # another address is not affected
    clock.now += WINDOW_S + 0.1
    throttle.check("10.0.0.1")  # the minute is over


def test_admin_guessing_is_cut_off_before_the_comparison() -> None:
    guard = AdminGuard(ADMIN, failures_per_minute=10)
    for _ in range(10):
        with pytest.raises(PermissionDenied):
            guard.check({"authorization": "Bearer wrong"}, "10.0.0.9")
    with pytest.raises(RateLimited):  # even the right key, from there: a guess learns nothing more
        guard.check({"authorization": f"Bearer {ADMIN}"}, "10.0.0.9")
    guard.check({"authorization": f"Bearer {ADMIN}"}, "10.0.0.10")  # the operator elsewhere is served


async def test_cached_valid_keys_pass_a_throttled_address(tmp_path: Path) -> None:
    from proxy.auth import ops as keyops
    from proxy.auth.store.sqlite import SqliteKeyStore

    settings = make_settings(tmp_path, key_failures_per_minute=2, demo_key="sk-valid-" + "v" * 40)
    store = SqliteKeyStore(settings.sqlite_path)
    await store.create_tables()
    await keyops.ensure_key(store, settings, "sk-valid-" + "v" * 40, team_id="t", team_name="T")
    auth = Authenticator(store, settings)
    good = {"authorization": "Bearer sk-valid-" + "v" * 40}
    await auth.authenticate(good, "10.0.0.5")  # cached now
    forged = auth.hasher.new_secret  # checksum-valid secrets that exist nowhere: each costs a store read
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate({"authorization": f"Bearer {forged()}"}, "10.0.0.5")
    with pytest.raises(RateLimited):
        await auth.authenticate({"authorization": f"Bearer {forged()}"}, "10.0.0.5")
    assert (await auth.authenticate(good, "10.0.0.5")).team_id == "t"  # never slowed
    await auth.close()
    await store.close()
