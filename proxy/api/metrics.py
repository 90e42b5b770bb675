"""GET /metrics: Prometheus text (proxy/observability/metrics.py), admin key only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from proxy.admin.auth import admin_only
from proxy.observability.metrics import render


@admin_only
async def metrics_endpoint(request: Request) -> Response:
    return Response(render(request.app.state.services.metrics), media_type="text/plain; version=0.0.4")
