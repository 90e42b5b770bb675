"""Admin API under /admin: teams and keys. Admin key only (proxy/admin/auth.py); JSON in and out.

Lists use OpenAI's `{"object": "list", "data": [...]}`; no response ever carries a key hash, and the
secret appears only in the answers to create and rotate. Every change invalidates the auth cache.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.admin.auth import admin_only
from proxy.auth import ops as keyops
from proxy.auth import parse as keyparse
from proxy.errors import InvalidRequest, NotFound
from proxy.json_body import parse_json, read_body


def _services(request: Request) -> Any:
    return request.app.state.services


ADMIN_MAX_BODY_BYTES = 1024 * 1024  # a team or key body is a few hundred bytes

# The answers that carry a key's secret must not be kept by any cache or proxy on the way.
NO_STORE = {"cache-control": "no-store"}


async def _body(request: Request, *, optional: bool = False) -> Any:
    raw = await read_body(request, ADMIN_MAX_BODY_BYTES)  # refused as it passes the cap, never read in full
    if optional and not raw.strip():
        return {}
    return parse_json(raw)  # 400 for bad or too deeply nested JSON (proxy/json_body.py)


def _list(items: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"object": "list", "data": items})


# --- teams ------------------------------------------------------------------------------------
async def create_team(request: Request) -> Response:
    svc = _services(request)
    team = keyops.new_team(keyparse.team_create(await _body(request)), svc.settings)
    await keyops.create_team(svc.keystore, team, svc.auth.invalidate)
    return JSONResponse(keyops.team_json(team), status_code=201)


async def list_teams(request: Request) -> Response:
    return _list([keyops.team_json(t) for t in await _services(request).keystore.list_teams()])


async def get_team(request: Request) -> Response:
    team_id = request.path_params["team_id"]
    team = await _services(request).keystore.get_team(team_id)
    if team is None:
        raise NotFound(f"No team with id '{team_id}'.", param="team_id")
    return JSONResponse(keyops.team_json(team))


async def update_team(request: Request) -> Response:
    svc = _services(request)
    changes = keyparse.team_changes(await _body(request))
    team = await keyops.update_team(
        svc.keystore, request.path_params["team_id"], changes, svc.auth.invalidate
    )
    return JSONResponse(keyops.team_json(team))


async def delete_team(request: Request) -> Response:
    svc = _services(request)
    team_id = request.path_params["team_id"]
    revoked = await keyops.delete_team(svc.keystore, team_id, svc.auth.invalidate)
    body = {"object": "team.deleted", "team_id": team_id, "deleted": True}
    return JSONResponse({**body, "revoked_key_ids": [k.key_id for k in revoked]})


# --- keys -------------------------------------------------------------------------------------
async def create_key(request: Request) -> Response:
    svc = _services(request)
    fields = keyparse.key_create(await _body(request))
    key, secret = await keyops.create_key(svc.keystore, svc.settings, fields, svc.auth.invalidate,
                                          hasher=svc.auth.hasher)
    return JSONResponse(keyops.key_json(key, secret), status_code=201, headers=NO_STORE)


async def list_keys(request: Request) -> Response:
    team_id = request.query_params.get("team_id")
    if team_id is not None:
        keyparse.team_id(team_id)
    return _list([keyops.key_json(k) for k in await _services(request).keystore.list_keys(team_id)])


async def get_key(request: Request) -> Response:
    key = await keyops.get_key(_services(request).keystore, request.path_params["key_id"])
    return JSONResponse(keyops.key_json(key))


async def update_key(request: Request) -> Response:
    svc = _services(request)
    changes = keyparse.key_changes(await _body(request))
    key = await keyops.update_key(svc.keystore, request.path_params["key_id"], changes, svc.auth.invalidate)
    return JSONResponse(keyops.key_json(key))


async def revoke_key(request: Request) -> Response:
    svc = _services(request)
    key = await keyops.revoke_key(svc.keystore, request.path_params["key_id"], svc.auth.invalidate)
    return JSONResponse(keyops.key_json(key))


async def rotate_key(request: Request) -> Response:
    svc = _services(request)
    body = await _body(request, optional=True)
    if not isinstance(body, dict) or set(body) - {"grace_seconds"}:
        raise InvalidRequest("Expected a JSON object with optional 'grace_seconds'.", param="grace_seconds")
    grace = body.get("grace_seconds", 0)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= keyparse.MAX_GRACE_SECONDS:
        raise InvalidRequest(
            f"Invalid 'grace_seconds': expected a non-negative integer up to {keyparse.MAX_GRACE_SECONDS}.",
            param="grace_seconds",
        )
    old, new, secret = await keyops.rotate_key(
        svc.keystore, svc.settings, request.path_params["key_id"], grace, svc.auth.invalidate,
        hasher=svc.auth.hasher,
    )
    return JSONResponse(
        {**keyops.key_json(new, secret), "rotated_from": keyops.key_json(old)}, status_code=201, headers=NO_STORE
    )


routes: list[Route] = [
    Route("/admin/teams", admin_only(create_team), methods=["POST"]),
    Route("/admin/teams", admin_only(list_teams), methods=["GET"]),
    Route("/admin/teams/{team_id}", admin_only(get_team), methods=["GET"]),
    Route("/admin/teams/{team_id}", admin_only(update_team), methods=["PATCH"]),
    Route("/admin/teams/{team_id}", admin_only(delete_team), methods=["DELETE"]),
    Route("/admin/keys", admin_only(create_key), methods=["POST"]),
    Route("/admin/keys", admin_only(list_keys), methods=["GET"]),
    Route("/admin/keys/{key_id}", admin_only(get_key), methods=["GET"]),
    Route("/admin/keys/{key_id}", admin_only(update_key), methods=["PATCH"]),
    Route("/admin/keys/{key_id}/revoke", admin_only(revoke_key), methods=["POST"]),
    Route("/admin/keys/{key_id}/rotate", admin_only(rotate_key), methods=["POST"]),
]
