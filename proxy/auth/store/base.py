"""KeyStore: the async interface both stores implement, plus the record <-> item mapping they share.

Stores hold data only (no business rules beyond existence checks); `proxy/auth/ops.py` holds the rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from proxy.auth.principal import ApiKey, Limits, Team

if TYPE_CHECKING:
    pass

KEY_CHANGE_FIELDS = frozenset(
    {"status", "name", "expires_at", "limits", "allowed_models", "monthly_budget_usd", "last_used_at"}
)
TEAM_CHANGE_FIELDS = frozenset(
    {"team_name", "cost_center", "limits", "monthly_budget_usd", "allowed_models", "tags"}
)


class KeyStore(Protocol):
    """Teams and API keys. Missing records: getters return None, mutators raise NotFound."""

    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def get_key(self, key_id: str) -> ApiKey | None: ...
    async def list_keys(self, team_id: str | None = None) -> list[ApiKey]: ...
    async def put_key(self, key: ApiKey) -> None: ...  # Conflict if key_id or key_hash exists
    async def update_key(self, key_id: str, **changes: Any) -> ApiKey: ...  # KEY_CHANGE_FIELDS
    async def touch_last_used(self, key_id: str, ts: str) -> None: ...  # silently ignores unknown ids
    async def get_team(self, team_id: str) -> Team | None: ...
    async def list_teams(self) -> list[Team]: ...
    async def put_team(self, team: Team) -> None: ...  # Conflict if it exists
    async def update_team(self, team_id: str, **changes: Any) -> Team: ...  # TEAM_CHANGE_FIELDS
    async def delete_team(self, team_id: str) -> list[ApiKey]: ...  # revokes the team's keys; returns them
    async def create_tables(self) -> None: ...
    async def close(self) -> None: ...


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_changes(changes: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")


def apply_key_changes(key: ApiKey, changes: Mapping[str, Any]) -> ApiKey:
    check_changes(changes, KEY_CHANGE_FIELDS)
    return dataclasses.replace(key, **changes)


def apply_team_changes(team: Team, changes: Mapping[str, Any]) -> Team:
    check_changes(changes, TEAM_CHANGE_FIELDS)
    return dataclasses.replace(team, **changes, updated_at=now_iso())


def limits_to_item(limits: Limits) -> dict[str, int]:
    return {k: v for k, v in dataclasses.asdict(limits).items() if v is not None}


def limits_from_item(item: Mapping[str, Any] | None) -> Limits:
    return Limits(**{k: int(v) for k, v in (item or {}).items() if v is not None})


def _models(item: Mapping[str, Any]) -> frozenset[str] | None:
    models = item.get("allowed_models")
    return None if models is None else frozenset(models)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _drop_none(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def _to_item(record: Team | ApiKey) -> dict[str, Any]:
    item = dataclasses.asdict(record)
    item["limits"] = limits_to_item(record.limits)
    if record.allowed_models is not None:
        item["allowed_models"] = sorted(record.allowed_models)
    return _drop_none(item)


def team_to_item(team: Team) -> dict[str, Any]:
    return _to_item(team)


def team_from_item(item: Mapping[str, Any]) -> Team:
    return Team(
        team_id=str(item["team_id"]),
        team_name=str(item["team_name"]),
        cost_center=item.get("cost_center"),
        limits=limits_from_item(item.get("limits")),
        monthly_budget_usd=_decimal(item.get("monthly_budget_usd")),
        allowed_models=_models(item),
        tags={str(k): str(v) for k, v in (item.get("tags") or {}).items()},
        created_at=str(item.get("created_at", "")),
        updated_at=str(item.get("updated_at", "")),
    )


def key_to_item(key: ApiKey) -> dict[str, Any]:
    return _to_item(key)


def key_from_item(item: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=str(item["key_id"]),
        team_id=str(item["team_id"]),
        key_hash=str(item["key_hash"]),
        prefix=str(item["prefix"]),
        name=str(item.get("name", "")),
        status=str(item.get("status", "active")),
        created_at=str(item.get("created_at", "")),
        last_used_at=item.get("last_used_at"),
        expires_at=item.get("expires_at"),
        limits=limits_from_item(item.get("limits")),
        monthly_budget_usd=_decimal(item.get("monthly_budget_usd")),
        allowed_models=_models(item),
    )
