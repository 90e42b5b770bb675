"""GET /v1/usage (the caller's team only) and GET /admin/usage (any team, grouped, JSON or CSV).

Both read the daily aggregates, so they lag live traffic by at most one flush interval.
/v1/usage costs are JSON numbers with 9 decimals (the stored unit is nano-USD); admin reports carry exact strings.
"""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.admin_auth import require_admin
from proxy.errors import InvalidRequest
from proxy.pricing import from_nanos
from proxy.usagestore import COUNTERS, DailyAggregate

MAX_DAYS = 366
GROUPS = ("team", "cost_center", "model", "day")
CSV_COLUMNS = ("from", "to", "group", "requests", "prompt_tokens", "completion_tokens", "cached_tokens",
               "cache_write_tokens", "total_tokens", "errors", "cost_usd")
_NANO = Decimal("0.000000001")


def _money(nanos: int) -> float:
    return float(from_nanos(nanos).quantize(_NANO))


def parse_days(raw: str | None) -> int:
    if raw is None:
        return 30
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise InvalidRequest(f"days must be an integer from 1 to {MAX_DAYS}, got {raw!r}", param="days")
    return days


def team_usage(team_id: str, team_name: str, days: int, end: date,
               rows: Iterable[DailyAggregate]) -> dict[str, Any]:
    """The product sheet's shape; by_day lists every day of the period, zeros included."""
    start = end - timedelta(days=days - 1)
    by_model: dict[str, dict[str, int]] = {}
    by_day = {(start + timedelta(days=i)).isoformat(): dict.fromkeys(COUNTERS, 0) for i in range(days)}
    total = dict.fromkeys(COUNTERS, 0)
    for row in rows:
        for bucket in (by_model.setdefault(row.model, dict.fromkeys(COUNTERS, 0)),
                       by_day.setdefault(row.day, dict.fromkeys(COUNTERS, 0)), total):
            for name in COUNTERS:
                bucket[name] += getattr(row, name)
    return {
        "team_id": team_id,
        "team_name": team_name,
        "period": {"days": days, "start": start.isoformat(), "end": end.isoformat()},
        "summary": {
            "total_requests": total["requests"],
            "total_tokens": total["total_tokens"],
            "total_cost_usd": _money(total["cost_nanos"]),
            "avg_daily_cost_usd": float((from_nanos(total["cost_nanos"]) / days).quantize(_NANO)),
        },
        "by_model": {model: {"requests": c["requests"], "tokens": c["total_tokens"],
                             "prompt_tokens": c["prompt_tokens"], "completion_tokens": c["completion_tokens"],
                             "cost_usd": _money(c["cost_nanos"])} for model, c in sorted(by_model.items())},
        "by_day": [{"date": day, "requests": c["requests"], "tokens": c["total_tokens"],
                    "cost_usd": _money(c["cost_nanos"])} for day, c in sorted(by_day.items())],
    }


async def usage_endpoint(request: Request) -> Response:
    services = request.app.state.services
    principal = await services.auth.authenticate(request.headers)
    days = parse_days(request.query_params.get("days"))
    end = datetime.now(UTC).date()
    rows = await services.usage_store.daily(principal.team_id, end - timedelta(days=days - 1), end)
    return JSONResponse(team_usage(principal.team_id, principal.team_name, days, end, rows))


def group_report(rows: Iterable[DailyAggregate], group_by: str) -> list[dict[str, Any]]:
    """Sum aggregates by team | cost_center | model | day; cost_usd is an exact string."""
    if group_by not in GROUPS:
        raise InvalidRequest(f"group_by must be one of {', '.join(GROUPS)}", param="group_by")
    groups: dict[str, dict[str, int]] = {}
    for row in rows:
        key = {"team": row.team_id, "cost_center": row.cost_center or "(none)",
               "model": row.model, "day": row.day}[group_by]
        bucket = groups.setdefault(key, dict.fromkeys(COUNTERS, 0))
        for name in COUNTERS:
            bucket[name] += getattr(row, name)
    report = []
    for key, c in sorted(groups.items()):
        item: dict[str, Any] = {"group": key, **{k: v for k, v in c.items() if k != "cost_nanos"}}
        item["cost_usd"] = format(from_nanos(c["cost_nanos"]), "f")
        report.append(item)
    return report


def report_csv(report: list[dict[str, Any]], start: date, end: date) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in report:
        writer.writerow({"from": start.isoformat(), "to": end.isoformat(), **item})
    return out.getvalue()


def parse_range(raw_from: str | None, raw_to: str | None) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    try:
        end = date.fromisoformat(raw_to) if raw_to else today
        start = date.fromisoformat(raw_from) if raw_from else end.replace(day=1)
    except ValueError:
        raise InvalidRequest("from and to must be dates as YYYY-MM-DD", param="from") from None
    if start > end or (end - start).days >= MAX_DAYS * 3:
        raise InvalidRequest("from must be on or before to, and the range at most 3 years", param="from")
    return start, end


async def admin_usage(request: Request) -> Response:
    checked = require_admin(request)
    if inspect.isawaitable(checked):  # tolerate an async require_admin
        await checked
    params = request.query_params
    start, end = parse_range(params.get("from"), params.get("to"))
    group_by = params.get("group_by", "team")
    fmt = params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidRequest("format must be json or csv", param="format")
    rows = await request.app.state.services.usage_store.daily(params.get("team_id"), start, end)
    report = group_report(rows, group_by)
    if fmt == "csv":
        filename = f"usage-{group_by}-{start}-{end}.csv"
        return Response(report_csv(report, start, end), media_type="text/csv",
                        headers={"content-disposition": f'attachment; filename="{filename}"'})
    return JSONResponse({"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by,
                         "team_id": params.get("team_id"), "data": report})


routes: list[Route] = [Route("/admin/usage", admin_usage, methods=["GET"])]
