"""Budget alerts: each threshold once per period (also across replicas), signed webhook, log line always."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiohttp import web

from proxy.settings import Settings
from proxy.usage import alerts
from proxy.usage.alerts import AlertConfig, BudgetAlerter, month_to_date_spend

from .usage_fakes import FakeStore, make_record

SECRET = "whsec-test"


class Receiver:
    async def moved(self, request: web.Request) -> web.Response:
        self.redirected += 1
        return web.Response(status=307, headers={"location": self.url})  # back to /hook: must not follow

    def __init__(self) -> None:
        self.redirected = 0
        self.bodies: list[dict[str, Any]] = []
        self.fail_next = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        assert alerts.verify(SECRET, raw, request.headers[alerts.SIGNATURE_HEADER])
        assert request.headers[alerts.TIMESTAMP_HEADER].isdigit()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503)
        self.bodies.append(orjson.loads(raw))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    app.router.add_post("/moved", rec.moved)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()


def settings_for(url: str | None, *, allow_private: bool = True) -> AlertConfig:
    # The receiver listens on loopback, which the webhook refuses unless allowed (hardening #9).
    settings = Settings.from_env({}, budget_alert_webhook_url=url, budget_alert_webhook_secret=SECRET,
                                 budget_alert_thresholds=(50.0, 80.0, 100.0),
                                 budget_alert_webhook_allow_private=allow_private)
    return AlertConfig.from_settings(settings)


async def spend(store: FakeStore, start: int, dollars: str, team: str = "team-a") -> None:
    await store.write_batch([make_record(start, team=team, cost=dollars)])


async def test_thresholds_fire_once_each_and_webhook_is_signed(receiver: Receiver,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore()
    replica_1 = BudgetAlerter(store, settings_for(receiver.url), retry_delay_s=0.01)
    replica_2 = BudgetAlerter(store, settings_for(receiver.url), retry_delay_s=0.01)
    budget = {("team-a", None): Decimal(100)}
    with caplog.at_level(logging.WARNING, logger="llm_gateway.alerts"):
        await spend(store, 1, "49.99")
        assert await replica_1.check(budget) == []
        await spend(store, 2, "0.01")  # exactly 50 %
        fired = await replica_1.check(budget) + await replica_2.check(budget)
        assert [a["threshold_percent"] for a in fired] == [50.0]
        await spend(store, 3, "60")  # 110 %: 80 and 100 at once
        fired = await replica_2.check(budget) + await replica_1.check(budget)
        assert sorted(a["threshold_percent"] for a in fired) == [80.0, 100.0]
        for _ in range(3):
            assert await replica_1.check(budget) == [] and await replica_2.check(budget) == []
        await replica_1.close()
        await replica_2.close()
    assert sorted(b["threshold_percent"] for b in receiver.bodies) == [50.0, 80.0, 100.0]
    first = next(b for b in receiver.bodies if b["threshold_percent"] == 50.0)
    period = datetime.now(UTC).strftime("%Y-%m")
    assert first["alert_id"] == f"team-a#{period}#50" and first["budget_usd"] == "100"
    assert first["spent_usd"] == "50.000000000" and first["team_id"] == "team-a"
    assert caplog.text.count("budget alert: team=team-a") == 3


async def test_webhook_failures_are_retried(receiver: Receiver) -> None:
    store = FakeStore()
    receiver.fail_next = 2
    alerter = BudgetAlerter(store, settings_for(receiver.url), retry_delay_s=0.01)
    await spend(store, 1, "10")
    await alerter.check({("team-a", None): Decimal(10)})
    await alerter.close()
    assert len(receiver.bodies) == 3  # 50, 80, 100 all delivered after two 503s


async def test_no_webhook_still_logs_and_unreachable_webhook_never_raises(
        caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore()
    await spend(store, 1, "10")
    with caplog.at_level(logging.WARNING, logger="llm_gateway.alerts"):
        fired = await BudgetAlerter(store, settings_for(None)).check({("team-a", None): Decimal(10)})
        dead = BudgetAlerter(store, settings_for("http://127.0.0.1:9/x"), retries=2, retry_delay_s=0.01)
        await dead.check({("team-a", None): Decimal(1)})  # already claimed: nothing
        await dead.close()
    assert len(fired) == 3 and "budget alert: team=team-a" in caplog.text


async def test_key_budget_thresholds_fire_apart_from_the_team(receiver: Receiver,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore()
    alerter = BudgetAlerter(store, settings_for(receiver.url), retry_delay_s=0.01)
    await store.write_batch([make_record(1, cost="4", key="k1"), make_record(2, cost="1", key="k2")])
    budgets = {("team-a", None): Decimal(100), ("team-a", "k1"): Decimal(5), ("team-a", "k2"): Decimal(5)}
    with caplog.at_level(logging.WARNING, logger="llm_gateway.alerts"):
        fired = await alerter.check(budgets)  # k1 at 80 %, k2 at 20 %, the team at 5 %
        assert await alerter.check(budgets) == []
    await alerter.close()
    period = datetime.now(UTC).strftime("%Y-%m")
    assert [(a["alert_id"], a["scope"], a["key_id"]) for a in fired] == [
        (f"team-a#key:k1#{period}#50", "key", "k1"), (f"team-a#key:k1#{period}#80", "key", "k1")]
    assert sorted(b["threshold_percent"] for b in receiver.bodies) == [50.0, 80.0]
    assert all(b["key_id"] == "k1" and b["spent_usd"] == "4.000000000" for b in receiver.bodies)
    assert "budget alert: team=team-a key=k1 period=" in caplog.text


async def test_teams_without_budget_are_ignored() -> None:
    store = FakeStore()
    await spend(store, 1, "1000")
    assert await BudgetAlerter(store, settings_for(None)).check({("team-a", None): None}) == []


async def test_month_to_date_spend_and_limiter_spent() -> None:
    store = FakeStore()
    await store.write_batch([make_record(1, cost="1.5", ts="2026-10-31T23:59:59Z"),
                             make_record(2, cost="2.25", ts="2026-11-01T00:00:00Z"),
                             make_record(3, cost="3", ts="2026-11-30T23:59:59Z")])
    assert await month_to_date_spend(store, "team-a", "2026-11") == Decimal("5.25")

    async def limiter_spent(team_id: str, period: str) -> Decimal:
        return Decimal(95)

    alerter = BudgetAlerter(store, settings_for(None), spent=limiter_spent)
    fired = await alerter.check({("team-a", None): Decimal(100)})
    assert [a["threshold_percent"] for a in fired] == [50.0, 80.0]
    await asyncio.sleep(0)


async def test_redirects_are_never_followed(receiver: Receiver) -> None:
    """Hardening #9: a redirect would re-POST the signed body to the host it names."""
    store = FakeStore()
    alerter = BudgetAlerter(store, settings_for(receiver.url.replace("/hook", "/moved")), retries=2,
                            retry_delay_s=0.01)
    await spend(store, 1, "10")
    await alerter.check({("team-a", None): Decimal(10)})
    await alerter.close()
    assert receiver.redirected >= 1 and receiver.bodies == []


@pytest.mark.parametrize("target", ["127.0.0.1", "localhost", "169.254.169.254", "[::1]", "10.0.0.1"])
async def test_non_public_targets_are_refused_unless_allowed(
    receiver: Receiver, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    url = f"http://{target}:{port}/hook"
    store = FakeStore()
    alerter = BudgetAlerter(store, settings_for(url, allow_private=False), retries=1, retry_delay_s=0.01)
    await spend(store, 1, "10")
    with caplog.at_level(logging.WARNING, logger="llm_gateway.alerts"):
        fired = await alerter.check({("team-a", None): Decimal(10)})
        await alerter.close()
    assert len(fired) == 3 and receiver.bodies == []  # the alerts are logged, never sent there
    assert "non-public" in caplog.text or "refuse" in caplog.text
    assert alerts._non_public("8.8.8.8") is False

