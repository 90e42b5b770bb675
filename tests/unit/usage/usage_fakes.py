"""In-memory UsageStore with an on/off switch, and record factories, for the usage unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from proxy.usage.store.base import DailyAggregate, StoreUnavailable, UsageRecord, counters


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[str, UsageRecord] = {}
        self.order: list[str] = []
        self.down = False
        self.calls = 0
        self.alerts: dict[str, dict[str, str]] = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def write_batch(self, records: Sequence[UsageRecord]) -> int:
        self.calls += 1
        if self.down:
            raise StoreUnavailable("fake outage")
        new = 0
        for rec in records:
            if rec.request_id not in self.rows:
                self.rows[rec.request_id] = rec
                self.order.append(rec.request_id)
                new += 1
        return new

    async def daily(self, team_id: str | None, start: date, end: date) -> list[DailyAggregate]:
        agg: dict[tuple[str, str, str], dict[str, int]] = {}
        for rec in self.rows.values():
            in_range = start.isoformat() <= rec.day <= end.isoformat()
            if (team_id is None or rec.team_id == team_id) and in_range:
                bucket = agg.setdefault((rec.team_id, rec.day, rec.model), {})
                for k, v in counters(rec).items():
                    bucket[k] = bucket.get(k, 0) + v
        return [DailyAggregate(t, d, m, None, **c) for (t, d, m), c in sorted(agg.items())]

    async def records(self, team_id: str, start_ts: str, end_ts: str) -> list[UsageRecord]:
        return [r for r in self.rows.values() if r.team_id == team_id and start_ts <= r.ts < end_ts]

    async def key_month_spend(self, team_id: str, key_id: str, period: str) -> int:
        return sum(r.cost_nanos for r in self.rows.values()
                   if (r.team_id, r.key_id, r.period) == (team_id, key_id, period))

    async def claim_alert(self, alert_id: str, item: dict[str, str]) -> bool:
        if alert_id in self.alerts:
            return False
        self.alerts[alert_id] = item
        return True


def make_record(i: int, *, team: str = "team-a", model: str = "claude-x", cost: str = "0.000123456",
                ts: str | None = None, status: str = "ok", budget: Decimal | None = None,
                key: str = "key-1", key_budget: Decimal | None = None) -> UsageRecord:
    return UsageRecord(
        request_id=f"req-{team}-{i:06d}", ts=ts or datetime.now(UTC).isoformat(timespec="milliseconds"),
        team_id=team, key_id=key, cost_center="cc-42", model=model,
        bedrock_model_id="anthropic.claude-x-v1:0", prompt_tokens=10 + i % 7, completion_tokens=5 + i % 3,
        cached_tokens=i % 2, cache_write_tokens=0, total_tokens=15 + i % 7 + i % 3,
        cost_usd=Decimal(cost), priced=True, estimated=False, latency_ms=100, status=status,
        streaming=bool(i % 2), team_budget_usd=budget, key_budget_usd=key_budget,
    )
