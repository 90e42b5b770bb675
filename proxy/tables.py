"""DynamoDB table layout: the one source of truth for names, keys and indexes.

The DynamoDB stores, `llm-gateway tables create` and the Terraform tests all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    suffix: str  # full name = LLM_GATEWAY_DYNAMODB_TABLE_PREFIX + suffix
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    attribute_types: dict[str, str] = field(default_factory=dict)  # every key attribute -> "S" | "N"

    def name(self, prefix: str) -> str:
        return f"{prefix}{self.suffix}"


# Teams: GetItem by team_id; Scan to list (a handful of rows).
TEAMS = Table("teams", "team_id", attribute_types={"team_id": "S"})

# API keys: the hot-path lookup is one GetItem by key_hash (HMAC-SHA256 of the secret);
# admin lists a team's keys through team_id-index and finds one key through key_id-index.
KEYS = Table(
    "keys",
    "key_hash",
    indexes=(Index("key_id-index", "key_id"), Index("team_id-index", "team_id", "created_at")),
    attribute_types={"key_hash": "S", "key_id": "S", "team_id": "S", "created_at": "S"},
)

# Raw usage records, one per request, keyed by request_id so replays are idempotent; expire by TTL.
USAGE = Table(
    "usage",
    "request_id",
    indexes=(Index("team_id-ts-index", "team_id", "ts"),),
    ttl_attribute="expires_at",
    attribute_types={"request_id": "S", "team_id": "S", "ts": "S"},
)

# Daily aggregates per team x day x model, maintained with UpdateItem ADD in the same transaction as
# the raw record's conditional put, so reports never scan raw records and replays never double count.
USAGE_DAILY = Table(
    "usage-daily",
    "team_id",
    "day_model",  # "YYYY-MM-DD#<model alias>" (daily aggregate) or "key#YYYY-MM#<key_id>" (key x month spend)
    attribute_types={"team_id": "S", "day_model": "S"},
)

# Budget alerts already sent: a conditional put on "team_id#YYYY-MM#threshold" fires each alert once.
BUDGET_ALERTS = Table("budget-alerts", "alert_id", attribute_types={"alert_id": "S"})

ALL_TABLES = (TEAMS, KEYS, USAGE, USAGE_DAILY, BUDGET_ALERTS)
