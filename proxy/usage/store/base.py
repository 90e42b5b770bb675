"""Usage storage contract shared by the SQLite and DynamoDB stores, the recorder, the API and the CLI.

A store writes raw records idempotently (keyed by request_id) and keeps exact daily aggregates per
team x day x model and monthly spend per key (cost in integer nano-dollars); it also claims budget
alerts once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import orjson

from proxy.usage.money import from_nanos, to_nanos


class StoreUnavailable(Exception):
    """The store is down, throttling or timing out: keep the records and retry later."""


@dataclass(frozen=True)
class UsageRecord:
    request_id: str
    ts: str  # ISO 8601 UTC, e.g. 2026-11-03T12:00:00.123456+00:00
    team_id: str
    key_id: str
    model: str  # catalog alias (or the raw Bedrock id the client sent)
    bedrock_model_id: str
    prompt_tokens: int = 0  # OpenAI semantics: input + cache read + cache write
    completion_tokens: int = 0
    cached_tokens: int = 0  # cache read
    cache_write_tokens: int = 0
    total_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    priced: bool = True
    estimated: bool = False  # tokens estimated locally because Bedrock reported none
    latency_ms: int = 0
    status: str = "ok"
    streaming: bool = False
    cost_center: str | None = None
    route: str = "chat"  # the client API: chat (OpenAI), messages (Anthropic), bedrock (pass-through)
    session_id: str | None = None  # the client's session (Claude Code's X-Claude-Code-Session-Id), bounded
    # Not stored: carried so budget alerts know the budgets without a key-store lookup.
    team_budget_usd: Decimal | None = None
    key_budget_usd: Decimal | None = None

    @property
    def day(self) -> str:
        return self.ts[:10]

    @property
    def period(self) -> str:
        """The budget period: the UTC calendar month, YYYY-MM."""
        return self.ts[:7]

    @property
    def cost_nanos(self) -> int:
        return to_nanos(self.cost_usd)

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        data["cost_usd"] = str(self.cost_usd)
        for name in ("team_budget_usd", "key_budget_usd"):
            data[name] = None if data[name] is None else str(data[name])
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> UsageRecord:
        data: dict[str, Any] = orjson.loads(raw)
        data["cost_usd"] = Decimal(data["cost_usd"])
        for name in ("team_budget_usd", "key_budget_usd"):
            budget = data.get(name)
            data[name] = None if budget is None else Decimal(budget)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class DailyAggregate:
    team_id: str
    day: str  # YYYY-MM-DD (UTC)
    model: str
    cost_center: str | None = None  # the cost center of the day's last record
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    total_tokens: int = 0
    cost_nanos: int = 0
    errors: int = 0

    @property
    def cost_usd(self) -> Decimal:
        return from_nanos(self.cost_nanos)


COUNTERS = ("requests", "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens",
            "total_tokens", "cost_nanos", "errors")


def counters(rec: UsageRecord) -> dict[str, int]:
    """What one record adds to its daily aggregate."""
    return {
        "requests": 1,
        "prompt_tokens": rec.prompt_tokens,
        "completion_tokens": rec.completion_tokens,
        "cached_tokens": rec.cached_tokens,
        "cache_write_tokens": rec.cache_write_tokens,
        "total_tokens": rec.total_tokens,
        "cost_nanos": rec.cost_nanos,
        "errors": 0 if rec.status == "ok" else 1,
    }


def dedupe(records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """First occurrence of each request_id wins (a batch may hold a record and its replay)."""
    seen: set[str] = set()
    out = []
    for rec in records:
        if rec.request_id not in seen:
            seen.add(rec.request_id)
            out.append(rec)
    return out


class UsageStore(Protocol):
    async def start(self) -> None: ...  # open connections, create embedded tables

    async def close(self) -> None: ...

    async def write_batch(self, records: Sequence[UsageRecord]) -> int:
        """Store records not stored yet and add them to the aggregates; returns how many were new.

        Idempotent by request_id. Raises StoreUnavailable when the caller should retry later.
        """
        ...

    async def daily(self, team_id: str | None, start: date, end: date) -> list[DailyAggregate]:
        """Aggregates of one team (None: all teams) for days start..end inclusive."""
        ...

    async def records(self, team_id: str, start_ts: str, end_ts: str) -> list[UsageRecord]:
        """Raw records of a team with start_ts <= ts < end_ts, oldest first."""
        ...

    async def key_month_spend(self, team_id: str, key_id: str, period: str) -> int:
        """Nano-USD spent by one key in a month ("YYYY-MM"): seeds key budgets after a limiter restart."""
        ...

    async def claim_alert(self, alert_id: str, item: dict[str, str]) -> bool:
        """True for the first caller only (across replicas): that caller sends the alert."""
        ...


def expires_at(ts: str, retention_days: int) -> int:
    return int((datetime.fromisoformat(ts) + timedelta(days=retention_days)).timestamp())
