"""Budget threshold alerts: once per team x month x threshold, claimed in the store (replica-safe).

Every alert is a log line on "llm_gateway.alerts"; with a webhook URL it is also POSTed as JSON signed
with x-llm-gateway-signature: sha256=<hex HMAC-SHA256(secret, raw body)>, retried in the background.
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import hashlib
import hmac
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiohttp.abc
import orjson

from proxy.settings import Settings
from proxy.usage.money import from_nanos
from proxy.usage.store.base import UsageStore

log = logging.getLogger("llm_gateway.alerts")

SIGNATURE_HEADER = "x-llm-gateway-signature"
TIMESTAMP_HEADER = "x-llm-gateway-timestamp"
SpentFn = Callable[[str, str], Awaitable[Decimal]]
SessionFactory = Callable[[], aiohttp.ClientSession]


def current_period(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[date, date]:
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


async def month_to_date_spend(store: UsageStore, team_id: str, period: str, key_id: str | None = None) -> Decimal:
    """Spend of a team (or of one of its keys) in a month ("YYYY-MM"): the limiter's budget_seed."""
    if key_id is not None:
        return from_nanos(await store.key_month_spend(team_id, key_id, period))
    start, end = period_bounds(period)
    rows = await store.daily(team_id, start, end)
    return sum((row.cost_usd for row in rows), Decimal(0))


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a webhook receiver runs on the raw request body (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header)


@dataclass(frozen=True)
class AlertConfig:
    """What the alerter reads of the settings (LLM_GATEWAY_BUDGET_ALERT_*)."""

    thresholds: tuple[float, ...] = (50.0, 80.0, 100.0)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertConfig:
        return cls(settings.budget_alert_thresholds, settings.budget_alert_webhook_url,
                   settings.budget_alert_webhook_secret, settings.budget_alert_webhook_allow_private)


class BudgetAlerter:
    def __init__(self, store: UsageStore, config: AlertConfig, *,
                 http_session_factory: SessionFactory | None = None, spent: SpentFn | None = None,
                 retries: int = 3, retry_delay_s: float = 1.0) -> None:
        self.store = store
        self.config = config
        self.spent = spent  # e.g. the limiter's spent(); default: the store's aggregates
        self.retries = retries
        self.retry_delay_s = retry_delay_s
        self._session_factory = http_session_factory or functools.partial(
            _webhook_session, allow_private=self.config.allow_private)
        self._session: aiohttp.ClientSession | None = None
        self._fired: set[str] = set()  # claimed here or seen claimed: skip the store next time
        self._tasks: set[asyncio.Task[None]] = set()

    async def check(self, budgets: Mapping[tuple[str, str | None], Decimal | None]) -> list[dict[str, Any]]:
        """Fire the thresholds each team, or key with a budget of its own, has crossed this month and not
        yet alerted; returns them. Keys of `budgets`: (team_id, None) for a team, (team_id, key_id)."""
        period = current_period()
        fired = []
        for (team_id, key_id), budget in budgets.items():
            if budget is None or budget <= 0:
                continue
            spent = await self._spent(team_id, key_id, period)
            for threshold in sorted(self.config.thresholds):
                if spent * 100 < budget * Decimal(str(threshold)):
                    break
                alert = await self._claim(team_id, key_id, period, threshold, budget, spent)
                if alert is not None:
                    fired.append(alert)
        return fired

    async def _spent(self, team_id: str, key_id: str | None, period: str) -> Decimal:
        if key_id is None and self.spent is not None:
            return await self.spent(team_id, period)
        return await month_to_date_spend(self.store, team_id, period, key_id)

    async def _claim(self, team_id: str, key_id: str | None, period: str, threshold: float, budget: Decimal,
                     spent: Decimal) -> dict[str, Any] | None:
        scope = team_id if key_id is None else f"{team_id}#key:{key_id}"
        alert_id = f"{scope}#{period}#{threshold:g}"
        if alert_id in self._fired:
            return None
        alert = {
            "type": "budget.threshold_crossed", "alert_id": alert_id, "team_id": team_id,
            "key_id": key_id, "scope": "team" if key_id is None else "key",
            "period": period, "threshold_percent": threshold, "budget_usd": str(budget),
            "spent_usd": str(spent), "percent_used": str((spent * 100 / budget).quantize(Decimal("0.01"))),
            "created_at": datetime.now(UTC).isoformat(),
        }
        claimed = await self.store.claim_alert(alert_id, {k: str(v) for k, v in alert.items() if v is not None})
        self._fired.add(alert_id)
        if not claimed:
            return None  # another replica (or an earlier run) sent it
        log.warning("budget alert: team=%s%s period=%s threshold=%g%% spent=%s budget=%s",
                    team_id, "" if key_id is None else f" key={key_id}", period, threshold, spent, budget)
        if self.config.webhook_url:
            task = asyncio.create_task(self._deliver(alert))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return alert

    async def _deliver(self, alert: dict[str, Any]) -> None:
        url = self.config.webhook_url
        if not url:
            return
        body = orjson.dumps(alert)
        headers = {"content-type": "application/json", TIMESTAMP_HEADER: str(int(time.time()))}
        if self.config.webhook_secret:
            headers[SIGNATURE_HEADER] = sign(self.config.webhook_secret, body)
        if not self.config.allow_private and (literal := _private_literal(url)):
            log.error("budget alert webhook refused: %s is a non-public address (set "
                      "LLM_GATEWAY_BUDGET_ALERT_WEBHOOK_ALLOW_PRIVATE=true to allow) alert=%s", literal,
                      alert["alert_id"])
            return
        for attempt in range(1, self.retries + 1):
            try:
                if self._session is None:
                    self._session = self._session_factory()
                timeout = aiohttp.ClientTimeout(total=5)
                # Never follow a redirect: the signed body would be re-POSTed to whatever host it names.
                async with self._session.post(url, data=body, headers=headers, timeout=timeout,
                                              allow_redirects=False) as resp:
                    if resp.status < 300:
                        return
                    reason = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = repr(exc)
            log.warning("budget alert webhook failed (attempt %d/%d): %s alert=%s",
                        attempt, self.retries, reason, alert["alert_id"])
            if attempt < self.retries:
                await asyncio.sleep(self.retry_delay_s * 2 ** (attempt - 1))
        log.error("budget alert webhook gave up: alert=%s", alert["alert_id"])

    async def close(self, *, timeout_s: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout_s)
        for task in self._tasks:
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None


def _non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


def _private_literal(url: str) -> str | None:
    """The URL's host when it is an IP literal that is not public (aiohttp skips the resolver for those)."""
    host = urlsplit(url).hostname or ""
    try:
        return host if _non_public(host) else None
    except ValueError:
        return None  # a name: the resolver below filters what it resolves to, at connect time


class PublicOnlyResolver(aiohttp.abc.AbstractResolver):
    """Resolves names to public addresses only, when the connection is made (no DNS-rebinding window)."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        public = [entry for entry in await self._inner.resolve(host, port, family) if not _non_public(entry["host"])]
        if not public:
            raise OSError(f"{host} resolves only to non-public addresses; the webhook refuses them")
        return public

    async def close(self) -> None:
        await self._inner.close()


def _webhook_session(*, allow_private: bool) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(resolver=None if allow_private else PublicOnlyResolver())
    return aiohttp.ClientSession(connector=connector)
