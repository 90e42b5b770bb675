"""One contract, two stores: SQLite (embedded) and DynamoDB (moto server over HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from proxy.auth.store.dynamodb import create_all_tables
from proxy.services import open_usage_store
from proxy.settings import Settings
from proxy.usage.store.base import UsageRecord, UsageStore

pytestmark = pytest.mark.integration


def rec(i: int, *, team: str = "team-a", day: str = "2026-11-03", model: str = "claude-x",
        cost: str = "0.001234567", status: str = "ok", cc: str | None = "cc-1", key: str = "key-1") -> UsageRecord:
    return UsageRecord(
        request_id=f"{team}-{day}-{model}-{i}", ts=f"{day}T12:00:{i % 60:02d}.{i % 1000:03d}Z", team_id=team,
        key_id=key, cost_center=cc, model=model, bedrock_model_id="anthropic.claude-x-v1:0",
        prompt_tokens=100 + i, completion_tokens=50, cached_tokens=i % 3, cache_write_tokens=i % 2,
        total_tokens=150 + i, cost_usd=Decimal(cost), status=status, latency_ms=42, streaming=i % 2 == 0,
    )


@pytest.fixture(params=["sqlite", "dynamodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UsageStore]:
    if request.param == "sqlite":
        settings = Settings.from_env({}, sqlite_path=str(tmp_path / "gw.db"))
    else:
        endpoint = request.getfixturevalue("dynamodb_server")
        settings = Settings.from_env({}, store="dynamodb", dynamodb_endpoint_url=endpoint,
                                     dynamodb_table_prefix=f"t{uuid.uuid4().hex[:10]}-")
        create_all_tables(settings)
    usage_store = open_usage_store(settings)
    await usage_store.start()
    yield usage_store
    await usage_store.close()


async def test_aggregates_are_exact(store: UsageStore) -> None:
    records = [rec(i) for i in range(120)]  # > one DynamoDB transaction, all on one aggregate item
    assert await store.write_batch(records) == 120
    [agg] = await store.daily("team-a", date(2026, 11, 1), date(2026, 11, 30))
    assert (agg.team_id, agg.day, agg.model, agg.cost_center) == ("team-a", "2026-11-03", "claude-x", "cc-1")
    assert agg.requests == 120
    assert agg.prompt_tokens == sum(r.prompt_tokens for r in records)
    assert agg.total_tokens == sum(r.total_tokens for r in records)
    assert agg.cached_tokens == sum(r.cached_tokens for r in records)
    assert agg.cache_write_tokens == sum(r.cache_write_tokens for r in records)
    assert agg.cost_usd == Decimal("0.001234567") * 120
    assert agg.errors == 0


async def test_replays_never_double_count(store: UsageStore) -> None:
    records = [rec(i) for i in range(60)]
    assert await store.write_batch(records[:40]) == 40
    assert await store.write_batch(records) == 20  # 40 already there: a spool replay
    assert await store.write_batch(records) == 0
    assert await store.write_batch([records[0], records[0]]) == 0  # duplicate inside one batch
    [agg] = await store.daily("team-a", date(2026, 11, 3), date(2026, 11, 3))
    assert agg.requests == 60 and agg.cost_nanos == 1_234_567 * 60


async def test_errors_are_counted(store: UsageStore) -> None:
    await store.write_batch([rec(1), rec(2, status="upstream_error"), rec(3, status="client_disconnected")])
    [agg] = await store.daily("team-a", date(2026, 11, 3), date(2026, 11, 3))
    assert agg.requests == 3 and agg.errors == 2


async def test_range_and_grouping(store: UsageStore) -> None:
    await store.write_batch([
        rec(1, day="2026-10-31"), rec(2, day="2026-11-01"), rec(3, day="2026-11-01", model="llama"),
        rec(4, day="2026-11-30"), rec(5, day="2026-12-01"), rec(6, team="team-b", day="2026-11-15", cc=None),
    ])
    rows = await store.daily("team-a", date(2026, 11, 1), date(2026, 11, 30))
    assert [(r.day, r.model) for r in rows] == [("2026-11-01", "claude-x"), ("2026-11-01", "llama"),
                                                ("2026-11-30", "claude-x")]
    everyone = await store.daily(None, date(2026, 11, 1), date(2026, 11, 30))
    assert sorted({r.team_id for r in everyone}) == ["team-a", "team-b"]
    assert [r.cost_center for r in everyone if r.team_id == "team-b"] == [None]


async def test_team_isolation(store: UsageStore) -> None:
    await store.write_batch([rec(1, team="team-a"), rec(2, team="team-b"), rec(3, team="team-ab")])
    rows = await store.daily("team-a", date(2026, 11, 1), date(2026, 11, 30))
    assert {r.team_id for r in rows} == {"team-a"}
    raw = await store.records("team-a", "2026-11-01", "2026-12-01")
    assert [r.request_id for r in raw] == ["team-a-2026-11-03-claude-x-1"]


async def test_raw_records_round_trip(store: UsageStore) -> None:
    original = [rec(i, day="2026-11-05") for i in range(3)] + [rec(9, day="2026-11-06")]
    await store.write_batch(original)
    got = await store.records("team-a", "2026-11-05", "2026-11-06")
    assert got == original[:3]


async def test_alert_is_claimed_once(store: UsageStore) -> None:
    assert await store.claim_alert("team-a#2026-11#80", {"threshold": "80"})
    assert not await store.claim_alert("team-a#2026-11#80", {"threshold": "80"})
    assert await store.claim_alert("team-a#2026-11#100", {"threshold": "100"})


async def test_key_month_spend_is_exact_and_replay_safe(store: UsageStore) -> None:
    records = [rec(i, key="key-1" if i % 3 else "key-2", day=f"2026-11-{1 + i % 30:02d}") for i in range(90)]
    records += [rec(100, day="2026-10-31"), rec(101, day="2026-12-01"), rec(102, team="team-b")]
    assert await store.write_batch(records) == 93  # > two DynamoDB transactions
    assert await store.write_batch(records) == 0
    assert await store.key_month_spend("team-a", "key-1", "2026-11") == 60 * 1_234_567
    assert await store.key_month_spend("team-a", "key-2", "2026-11") == 30 * 1_234_567
    assert await store.key_month_spend("team-a", "key-1", "2026-10") == 1_234_567
    assert await store.key_month_spend("team-a", "key-1", "2026-12") == 1_234_567
    assert await store.key_month_spend("team-a", "key-3", "2026-11") == 0
    assert await store.key_month_spend("team-b", "key-2", "2026-11") == 0
    # The per-key items never show up as daily aggregates, for one team or for all.
    for team in ("team-a", None):
        rows = await store.daily(team, date(2026, 10, 1), date(2026, 12, 31))
        assert sum(r.requests for r in rows) == 93 - (team == "team-a")
        assert all(len(r.day) == 10 and r.day.startswith("2026-") for r in rows)
