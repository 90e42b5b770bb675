"""GET /ready: can this process serve traffic? Beside /health (process alive, unchanged shape).

No auth, like /health, so a load balancer can call it; it names the failing dependency but never
shows a URL, a key or a store's error text.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from proxy.services import Services


async def ready(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    checks = await services.readiness()
    ok = all(result == "ok" for result in checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks},
                        status_code=200 if ok else 503, headers={"cache-control": "no-store"})
