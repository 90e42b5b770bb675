"""POST /v1/embeddings: HTTP only; the call's life is proxy/pipeline/embeddings.py."""

from __future__ import annotations

import time

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from proxy.api.chat import read_json_object, resolve_model
from proxy.services import Services


async def create_embeddings(request: Request) -> Response:
    services: Services = request.app.state.services
    started = time.perf_counter()
    principal = await services.auth.authenticate(request.headers, request.client.host if request.client else None)
    body = await read_json_object(request, services.settings.max_body_bytes)
    entry = resolve_model(services.catalog, body, principal)
    reply = await services.embeddings.run(request_id=request.state.request_id, principal=principal, entry=entry,
                                          body=body, started=started)
    return Response(reply.body, media_type="application/json", headers=reply.headers,
                    background=BackgroundTask(reply.after))
