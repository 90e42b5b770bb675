"""GET /admin/usage: any team, grouped by team | cost_center | model | day, as JSON or CSV."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.admin.auth import admin_only
from proxy.errors import InvalidRequest
from proxy.usage.reports import group_report, parse_range, report_csv


@admin_only
async def admin_usage(request: Request) -> Response:
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
