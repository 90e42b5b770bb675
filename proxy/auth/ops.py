"""Team and key operations shared by the admin API and the CLI: validation, rules, JSON shapes.

Every change calls `invalidate` (the Authenticator's, or the CLI's Redis broadcast) after the store write.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from proxy.auth import parse as keyparse
from proxy.auth.principal import ApiKey, Limits, Team
from proxy.auth.secrets import KeyHasher, display_prefix, new_key_id
from proxy.auth.store.base import KeyStore, now_iso
from proxy.errors import Conflict, InvalidRequest, NotFound
from proxy.settings import Settings

Invalidate = Callable[..., Awaitable[None]]  # (*, key_hash=None, team_id=None)


async def _no_invalidate(**_: Any) -> None:
    return None


def team_json(team: Team) -> dict[str, Any]:
    return {
        "object": "team",
        "team_id": team.team_id,
        "team_name": team.team_name,
        "cost_center": team.cost_center,
        "limits": dataclasses.asdict(team.limits),
        "monthly_budget_usd": keyparse.money_json(team.monthly_budget_usd),
        "allowed_models": None if team.allowed_models is None else sorted(team.allowed_models),
        "tags": dict(team.tags),
        "created_at": team.created_at,
        "updated_at": team.updated_at,
    }


def key_json(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    """Public view of a key: never the hash; the secret only right after creation or rotation."""
    body: dict[str, Any] = {"key": secret} if secret is not None else {}
    body.update(
        object="api_key",
        key_id=key.key_id,
        team_id=key.team_id,
        prefix=key.prefix,
        name=key.name,
        status=key.status,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        limits=dataclasses.asdict(key.limits),
        monthly_budget_usd=keyparse.money_json(key.monthly_budget_usd),
        allowed_models=None if key.allowed_models is None else sorted(key.allowed_models),
    )
    return body


def new_team(fields: Mapping[str, Any], settings: Settings) -> Team:
    """A Team from validated create fields; unspecified limits get the configured defaults."""
    limits = Limits(rpm=settings.default_rpm, tpm=settings.default_tpm)
    limits = dataclasses.replace(limits, **fields.get("limits", {}))
    now = now_iso()
    extra = {k: v for k, v in fields.items() if k != "limits"}
    return Team(**extra, limits=limits, created_at=now, updated_at=now)


async def create_team(store: KeyStore, team: Team, invalidate: Invalidate = _no_invalidate) -> Team:
    await store.put_team(team)
    await invalidate(team_id=team.team_id)  # clears negative entries of keys that now have a team
    return team


async def update_team(
    store: KeyStore, team_id: str, changes: dict[str, Any], invalidate: Invalidate = _no_invalidate
) -> Team:
    team = await _team(store, team_id)
    if "limits" in changes:
        changes = {**changes, "limits": dataclasses.replace(team.limits, **changes["limits"])}
    team = await store.update_team(team_id, **changes)
    await invalidate(team_id=team_id)
    return team


async def delete_team(store: KeyStore, team_id: str, invalidate: Invalidate = _no_invalidate) -> list[ApiKey]:
    revoked = await store.delete_team(team_id)
    await invalidate(team_id=team_id)
    return revoked


async def _team(store: KeyStore, team_id: str) -> Team:
    team = await store.get_team(team_id)
    if team is None:
        raise NotFound(f"No team with id '{team_id}'.", param="team_id")
    return team


async def _key(store: KeyStore, key_id: str) -> ApiKey:
    key = await store.get_key(key_id)
    if key is None:
        raise NotFound(f"No key with id '{key_id}'.", param="key_id")
    return key


def _key_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (Limits(**v) if k == "limits" else v) for k, v in fields.items()}


async def create_key(
    store: KeyStore, settings: Settings, fields: Mapping[str, Any], invalidate: Invalidate = _no_invalidate,
    *, hasher: KeyHasher | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for an existing team; returns the record and the secret (shown once)."""
    await _team(store, fields["team_id"])
    hasher = hasher or KeyHasher(settings.key_pepper)
    secret = hasher.new_secret()
    key = ApiKey(
        key_id=new_key_id(),
        key_hash=hasher.hash(secret),
        prefix=display_prefix(secret),
        created_at=now_iso(),
        **_key_fields(fields),
    )
    await store.put_key(key)
    await invalidate(key_hash=key.key_hash)
    return key, secret


async def get_key(store: KeyStore, key_id: str) -> ApiKey:
    return await _key(store, key_id)


async def revoke_key(store: KeyStore, key_id: str, invalidate: Invalidate = _no_invalidate) -> ApiKey:
    key = await _key(store, key_id)
    if key.status != "revoked":
        key = await store.update_key(key_id, status="revoked")
    await invalidate(key_hash=key.key_hash)  # also on a repeat: a retry re-broadcasts a lost message
    return key


async def update_key(
    store: KeyStore, key_id: str, changes: dict[str, Any], invalidate: Invalidate = _no_invalidate
) -> ApiKey:
    key = await _key(store, key_id)
    if "limits" in changes:
        changes = {**changes, "limits": dataclasses.replace(key.limits, **changes["limits"])}
    key = await store.update_key(key_id, **changes)
    await invalidate(key_hash=key.key_hash)
    return key


async def rotate_key(
    store: KeyStore,
    settings: Settings,
    key_id: str,
    grace_seconds: int = 0,
    invalidate: Invalidate = _no_invalidate,
    *,
    hasher: KeyHasher | None = None,
) -> tuple[ApiKey, ApiKey, str]:
    """New key with the old one's settings; the old one is revoked now or expires after the grace period.

    Returns (old key as updated, new key, new secret).
    """
    old = await _key(store, key_id)
    if old.status != "active":
        raise InvalidRequest(f"Key '{key_id}' is revoked and cannot be rotated.", param="key_id")
    fields = {
        "team_id": old.team_id,
        "name": old.name,
        "expires_at": old.expires_at,
        "limits": dataclasses.asdict(old.limits),
        "monthly_budget_usd": old.monthly_budget_usd,
        "allowed_models": old.allowed_models,
    }
    # Everything that can fail on the input is computed before the new key exists: a rotation either
    # returns the new secret or creates nothing.
    until = datetime.now(UTC) + timedelta(seconds=min(grace_seconds, keyparse.MAX_GRACE_SECONDS))
    new, secret = await create_key(store, settings, fields, invalidate, hasher=hasher)
    if grace_seconds <= 0:
        old = await store.update_key(key_id, status="revoked")
    else:
        if old.expires_at is None or datetime.fromisoformat(old.expires_at) > until:
            old = await store.update_key(key_id, expires_at=keyparse.iso(until))
    await invalidate(key_hash=old.key_hash)
    return old, new, secret


async def ensure_key(
    store: KeyStore, settings: Settings, secret: str, *, team_id: str, team_name: str, name: str = "",
    hasher: KeyHasher | None = None,
) -> ApiKey:
    """Make sure a given secret (e.g. LLM_GATEWAY_DEMO_KEY) is a key of `team_id`; idempotent.

    Any format works except `sk-gw-…` strings that are not gateway-generated (their checksum would
    make the Authenticator reject them without a lookup).
    """
    hasher = hasher or KeyHasher(settings.key_pepper)
    if not hasher.plausible(secret) or len(secret) < 8:
        raise InvalidRequest("An imported key needs 8+ characters and must not imitate the sk-gw- format.")
    existing = await store.get_key_by_hash(hasher.hash(secret))
    if existing is not None:
        return existing
    # Several replicas may start at once: losing the race to create the team or key is success.
    if await store.get_team(team_id) is None:
        with contextlib.suppress(Conflict):
            await create_team(store, new_team({"team_id": team_id, "team_name": team_name}, settings))
    key = ApiKey(
        key_id=new_key_id(),
        team_id=team_id,
        key_hash=hasher.hash(secret),
        prefix=display_prefix(secret),
        name=name,
        created_at=now_iso(),
    )
    try:
        await store.put_key(key)
    except Conflict:
        raced = await store.get_key_by_hash(key.key_hash)
        if raced is None:
            raise
        return raced
    return key
