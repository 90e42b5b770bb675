"""GET /v1/usage: the caller's team only, the product sheet's shape (proxy/usage/reports.py).

It reads the daily aggregates, so it lags live traffic by at most one flush interval.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proxy.usage.reports import parse_days, team_usage


async def usage_endpoint(request: Request) -> Response:
    services = request.app.state.services
    principal = await services.auth.authenticate(request.headers, request.client.host if request.client else None)
    days = parse_days(request.query_params.get("days"))
    end = datetime.now(UTC).date()
    rows = await services.usage_store.daily(principal.team_id, end - timedelta(days=days - 1), end)
    return JSONResponse(team_usage(principal.team_id, principal.team_name, days, end, rows))
