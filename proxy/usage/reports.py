"""Usage reports from the daily aggregates (pure): the product sheet's /v1/usage shape, admin groups, CSV.

Read by proxy/api/usage.py, proxy/admin/usage.py and proxy/cli/usage.py, so the three agree to the cent.
Costs in /v1/usage are JSON numbers with 9 decimals (the stored unit is nano-USD); admin reports carry exact strings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from proxy.errors import InvalidRequest
from proxy.usage.money import from_nanos
from proxy.usage.store.base import COUNTERS, DailyAggregate

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
        # The product sheet's shape: a list of objects, one per model, in name order.
        "by_model": [{"model": model, "requests": c["requests"], "tokens": c["total_tokens"],
                      "prompt_tokens": c["prompt_tokens"], "completion_tokens": c["completion_tokens"],
                      "cost_usd": _money(c["cost_nanos"])} for model, c in sorted(by_model.items())],
        "by_day": [{"date": day, "requests": c["requests"], "tokens": c["total_tokens"],
                    "cost_usd": _money(c["cost_nanos"])} for day, c in sorted(by_day.items())],
    }


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


# OWASP's rule for CSV injection: a cell a spreadsheet would read as a formula gets a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Text cells (team ids, cost centers, model names) are neutralised; numbers pass through."""
    if not isinstance(value, str):
        return value
    value = value.replace("\0", "")
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def report_csv(report: list[dict[str, Any]], start: date, end: date) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in report:
        writer.writerow({"from": start.isoformat(), "to": end.isoformat(),
                         **{name: csv_cell(value) for name, value in item.items()}})
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
