"""Who is calling: teams, keys and the Principal that the hot path carries (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Limits:
    """Per-minute request and token limits and in-flight cap; None means "no limit at this level"."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None


@dataclass(frozen=True)
class Team:
    team_id: str
    team_name: str
    cost_center: str | None = None
    limits: Limits = Limits(rpm=60)
    monthly_budget_usd: Decimal | None = None
    allowed_models: frozenset[str] | None = None  # None: every catalog model
    tags: dict[str, str] = field(default_factory=dict)
    created_at: str = ""  # ISO 8601 UTC
    updated_at: str = ""


@dataclass(frozen=True)
class ApiKey:
    key_id: str  # public id, safe to show and log
    team_id: str
    key_hash: str  # HMAC-SHA256(pepper, secret) hex; the secret itself is never stored
    prefix: str  # first characters of the secret, for display ("sk-gw-AbCd…")
    name: str = ""
    status: str = "active"  # active | revoked
    created_at: str = ""
    last_used_at: str | None = None
    expires_at: str | None = None
    limits: Limits = Limits()  # narrows the team's limits
    monthly_budget_usd: Decimal | None = None
    allowed_models: frozenset[str] | None = None  # narrows the team's allow-list


@dataclass(frozen=True)
class Principal:
    """The authenticated caller as the hot path sees it; built from a key and its team."""

    team_id: str
    team_name: str
    key_id: str
    cost_center: str | None = None
    team_limits: Limits = Limits(rpm=60)
    key_limits: Limits = Limits()
    team_budget_usd: Decimal | None = None
    key_budget_usd: Decimal | None = None
    allowed_models: frozenset[str] | None = None  # intersection of team's and key's

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models
