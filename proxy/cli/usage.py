"""`llm-gateway usage report|replay`: chargeback reports straight from the configured store."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import Any

import orjson

from proxy.errors import InvalidRequest
from proxy.services import open_usage_store
from proxy.settings import Settings
from proxy.usage.reports import CSV_COLUMNS, GROUPS, group_report, parse_range, report_csv


def register(subparsers: Any) -> None:
    usage = subparsers.add_parser("usage", help="usage and cost reports (reads LLM_GATEWAY_STORE directly)")
    sub = usage.add_subparsers(dest="usage_command", required=True)

    p = sub.add_parser("report", help="usage grouped by team, cost center, model or day over a date range",
                       description="CSV columns: " + ",".join(CSV_COLUMNS))
    p.add_argument("--from", dest="start", default=None,
                   help="YYYY-MM-DD (default: first day of --to's month)")
    p.add_argument("--to", dest="end", default=None, help="YYYY-MM-DD inclusive (default: today, UTC)")
    p.add_argument("--group-by", choices=GROUPS, default="team")
    p.add_argument("--team-id", default=None, help="only this team (default: all teams)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=report)

    p = sub.add_parser("replay", help="replay spool files left in LLM_GATEWAY_USAGE_SPOOL_DIR into the store")
    p.set_defaults(func=replay)


def report(args: argparse.Namespace) -> int:
    try:
        start, end = parse_range(args.start, args.end)
    except InvalidRequest as exc:
        print(f"llm-gateway usage report: {exc.message}", file=sys.stderr)
        return 2
    rows = asyncio.run(_daily(Settings.from_env(), args.team_id, start, end))
    data = group_report(rows, args.group_by)
    if args.format == "csv":
        sys.stdout.write(report_csv(data, start, end))
    elif args.format == "json":
        body = {"from": start.isoformat(), "to": end.isoformat(), "group_by": args.group_by, "data": data}
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(_table(data, args.group_by))
    return 0


async def _daily(settings: Settings, team_id: str | None, start: date, end: date) -> list[Any]:
    store = open_usage_store(settings)
    await store.start()
    try:
        return await store.daily(team_id, start, end)
    finally:
        await store.close()


def _table(data: list[dict[str, Any]], group_by: str) -> str:
    columns = ("group", "requests", "prompt_tokens", "completion_tokens", "total_tokens", "errors",
               "cost_usd")
    header = [group_by, *columns[1:]]
    lines = [[str(item[c]) for c in columns] for item in data]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*line) for line in [header, *lines]) + "\n"


def replay(args: argparse.Namespace) -> int:
    from proxy.usage.recorder import UsageRecorder

    async def run() -> dict[str, int]:
        settings = Settings.from_env()
        store = open_usage_store(settings)
        await store.start()
        recorder = UsageRecorder.from_settings(store, settings)
        try:
            await recorder.start()  # adopts and replays orphaned spools
            await recorder.close()
        finally:
            await store.close()
        return {"replayed": recorder.stats.replayed, "written": recorder.stats.written,
                "duplicates": recorder.stats.duplicates, "still_spooled": recorder.stats.spooled}

    sys.stdout.write(orjson.dumps(asyncio.run(run())).decode() + "\n")
    return 0
