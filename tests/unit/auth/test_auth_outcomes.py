"""Authenticator outcomes: missing, unknown, revoked, expired, both header styles, the Principal."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from proxy.auth import ops as keyops
from proxy.auth.authenticator import MISSING_KEY_MESSAGE, Authenticator
from proxy.auth.secrets import mask
from proxy.errors import AuthenticationFailed

from .keys_fakes import make_key


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer"},
        {"authorization": "Bearer   "},
        {"authorization": "Basic abc"},
        {"x-api-key": ""},
        {"x-api-key": "   "},
    ],
    ids=["none", "bearer-alone", "bearer-blank", "basic", "x-api-key-empty", "x-api-key-blank"],
)
async def test_missing_key(store, settings, headers) -> None:
    auth = Authenticator(store, settings)
    with pytest.raises(AuthenticationFailed) as err:
        await auth.authenticate(headers)
    assert err.value.message == MISSING_KEY_MESSAGE
    assert err.value.status == 401 and err.value.code == "invalid_api_key"
    assert store.reads == 0


async def test_both_header_styles_and_principal(store, settings) -> None:
    await keyops.create_team(
        store,
        keyops.new_team(
            {
                "team_id": "acme",
                "team_name": "Acme Corp",
                "cost_center": "cc-1",
                "limits": {"rpm": 100},
                "monthly_budget_usd": Decimal("50"),
                "allowed_models": frozenset({"a", "b"}),
            },
            settings,
        ),
    )
    key, secret = await make_key(
        store,
        settings,
        limits={"rpm": 10},
        allowed_models=frozenset({"b", "c"}),
        monthly_budget_usd=Decimal("5"),
    )
    auth = Authenticator(store, settings)
    for headers in (
        {"authorization": f"Bearer {secret}"},
        {"Authorization": f"bearer {secret}"},
        {"x-api-key": secret},
    ):
        principal = await auth.authenticate(headers)
        assert principal.key_id == key.key_id and principal.team_id == "acme"
    assert principal.team_name == "Acme Corp" and principal.cost_center == "cc-1"
    assert principal.team_limits.rpm == 100 and principal.team_limits.tpm == settings.default_tpm
    assert principal.key_limits.rpm == 10
    assert principal.allowed_models == frozenset({"b"})
    assert principal.may_use("b") and not principal.may_use("a")
    assert principal.team_budget_usd == Decimal("50") and principal.key_budget_usd == Decimal("5")


async def test_default_team_gets_configured_limits_and_all_models(store, settings) -> None:
    _, secret = await make_key(store, settings)
    principal = await Authenticator(store, settings).authenticate({"x-api-key": secret})
    assert principal.team_limits.rpm == settings.default_rpm and principal.allowed_models is None


async def _failure(auth: Authenticator, secret: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as err:
        await auth.authenticate({"authorization": f"Bearer {secret}"})
    return err.value


async def test_unknown_revoked_expired_look_the_same(store, settings) -> None:
    auth = Authenticator(store, settings)
    unknown = auth._hasher.new_secret()
    _, revoked = await make_key(store, settings)
    rkey = await store.get_key_by_hash(auth._hasher.hash(revoked))
    await keyops.revoke_key(store, rkey.key_id)
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, expired = await make_key(store, settings, expires_at=past)
    messages = []
    for secret in (unknown, revoked, expired, "not-a-gateway-key-at-all"):
        err = await _failure(auth, secret)
        assert err.status == 401 and err.code == "invalid_api_key"
        assert secret not in err.message and mask(secret) in err.message
        messages.append(err.message.replace(mask(secret), "<masked>"))
    assert len(set(messages)) == 1, messages


async def test_key_expiring_while_cached_is_refused_without_a_store_read(store, settings) -> None:
    wall = [datetime.now(UTC).timestamp()]
    soon = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, secret = await make_key(store, settings, expires_at=soon)
    auth = Authenticator(store, settings, wall_clock=lambda: wall[0])
    await auth.authenticate({"x-api-key": secret})
    store.reads = 0
    wall[0] += 60
    await _failure(auth, secret)
    assert store.reads == 0


async def test_team_deleted_means_401(store, settings) -> None:
    _, secret = await make_key(store, settings)
    auth = Authenticator(store, settings)
    await auth.authenticate({"x-api-key": secret})
    await keyops.delete_team(store, "acme", auth.invalidate)
    await _failure(auth, secret)


async def test_no_secret_in_logs(store, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    auth = Authenticator(store, settings)
    _, secret = await make_key(store, settings)
    await auth.authenticate({"x-api-key": secret})
    store.fail = True
    await auth.invalidate()
    with pytest.raises(Exception):  # noqa: B017 - store down: 503, logged
        await auth.authenticate({"x-api-key": secret})
    store.fail = False
    await _failure(auth, auth._hasher.new_secret())
    await _failure(auth, secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    await auth.close()
    assert caplog.records, "expected the store failure to be logged"
    assert secret not in caplog.text and secret[len("sk-gw-") :] not in caplog.text


async def test_imported_key_works_and_is_idempotent(store, settings) -> None:
    demo = "demo-key-0123456789abcdef"
    first = await keyops.ensure_key(store, settings, demo, team_id="demo", team_name="Demo")
    again = await keyops.ensure_key(store, settings, demo, team_id="demo", team_name="Demo")
    assert first.key_id == again.key_id and len(await store.list_keys("demo")) == 1
    with pytest.raises(AuthenticationFailed):  # imported keys work only while configured as the demo key
        await Authenticator(store, settings).authenticate({"x-api-key": demo})
    configured = dataclasses.replace(settings, demo_key=demo)
    principal = await Authenticator(store, configured).authenticate({"x-api-key": demo})
    assert principal.team_id == "demo"
    with pytest.raises(Exception, match="sk-gw-"):
        await keyops.ensure_key(store, settings, "sk-gw-" + "a" * 54, team_id="demo", team_name="Demo")
