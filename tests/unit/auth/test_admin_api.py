"""Admin API over HTTP (Starlette TestClient) and the openai SDK against a key's whole lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from proxy.admin import teams_keys as admin
from proxy.auth.admin_key import AdminGuard
from proxy.auth.authenticator import Authenticator
from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.errors import GatewayError

from .conftest import make_settings

ADMIN = {"authorization": "Bearer admin-secret"}


async def _models(request: Request) -> JSONResponse:
    principal = await request.app.state.services.auth.authenticate(request.headers)
    return JSONResponse({"object": "list", "data": [], "team_id": principal.team_id})


def build_app(tmp_path: Path, **overrides: Any) -> Starlette:
    settings = make_settings(tmp_path, **{"admin_key": "admin-secret", **overrides})
    store = SqliteKeyStore(settings.sqlite_path)
    app = Starlette(routes=[*admin.routes, Route("/v1/models", _models)])
    app.state.services = SimpleNamespace(
        keystore=store, auth=Authenticator(store, settings), settings=settings,
        admin_guard=AdminGuard(settings.admin_key),
    )
    app.add_exception_handler(
        GatewayError, lambda req, exc: JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
    )
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_app(tmp_path)) as c:
        yield c


def _sdk(client: TestClient, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url="http://testserver/v1", http_client=client, max_retries=0)


def _team_and_key(client: TestClient, **key_fields: Any) -> dict[str, Any]:
    client.post("/admin/teams", json={"team_id": "acme", "team_name": "Acme Corp"}, headers=ADMIN)
    resp = client.post("/admin/keys", json={"team_id": "acme", **key_fields}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_admin_api_disabled_without_admin_key(tmp_path: Path) -> None:
    with TestClient(build_app(tmp_path, admin_key=None)) as client:
        resp = client.get("/admin/teams", headers=ADMIN)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "admin_disabled"
    assert "LLM_GATEWAY_ADMIN_KEY" in resp.json()["error"]["message"]


def test_admin_requires_the_admin_key_and_never_a_team_key(client: TestClient) -> None:
    created = _team_and_key(client)
    assert client.get("/admin/teams").status_code == 401
    for headers in (
        {"authorization": f"Bearer {created['key']}"},
        {"x-api-key": created["key"]},
        {"authorization": "Bearer admin-secreT"},
    ):
        resp = client.get("/admin/keys", headers=headers)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "admin_key_required"
        assert created["key"] not in resp.text
    assert client.get("/admin/teams", headers={"x-api-key": "admin-secret"}).status_code == 200


def test_team_crud(client: TestClient) -> None:
    body = {
        "team_id": "acme",
        "team_name": "Acme Corp",
        "cost_center": "cc-7",
        "limits": {"rpm": 120},
        "monthly_budget_usd": 250.5,
        "allowed_models": ["claude-sonnet"],
        "tags": {"env": "prod"},
    }
    resp = client.post("/admin/teams", json=body, headers=ADMIN)
    assert resp.status_code == 201
    team = resp.json()
    assert (
        team["limits"]["rpm"] == 120
        and team["monthly_budget_usd"] == 250.5
        and team["tags"] == {"env": "prod"}
    )
    assert client.post("/admin/teams", json=body, headers=ADMIN).status_code == 409
    listed = client.get("/admin/teams", headers=ADMIN).json()
    assert listed["object"] == "list" and [t["team_id"] for t in listed["data"]] == ["acme"]
    resp = client.patch(
        "/admin/teams/acme", json={"limits": {"tpm": 5000}, "allowed_models": None}, headers=ADMIN
    )
    assert resp.json()["limits"] == {"rpm": 120, "tpm": 5000, "max_concurrency": None}
    assert resp.json()["allowed_models"] is None
    assert client.get("/admin/teams/nope", headers=ADMIN).status_code == 404
    assert client.delete("/admin/teams/acme", headers=ADMIN).json()["deleted"] is True
    assert client.get("/admin/teams/acme", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/admin/teams", {"team_id": "bad id!", "team_name": "x"}, "team_id"),
        ("/admin/teams", {"team_id": "ok"}, "team_name"),
        ("/admin/teams", {"team_id": "ok", "team_name": "x", "limits": {"rpm": 0}}, "limits.rpm"),
        ("/admin/teams", {"team_id": "ok", "team_name": "x", "limits": {"rps": 1}}, "limits.rps"),
        (
            "/admin/teams",
            {"team_id": "ok", "team_name": "x", "monthly_budget_usd": "lots"},
            "monthly_budget_usd",
        ),
        ("/admin/teams", {"team_id": "ok", "team_name": "x", "allowed_models": "gpt"}, "allowed_models"),
        ("/admin/teams", {"team_id": "ok", "team_name": "x", "owner": "me"}, "owner"),
        ("/admin/keys", {}, "team_id"),
        ("/admin/keys", {"team_id": "acme", "expires_at": "tomorrow"}, "expires_at"),
        ("/admin/keys", {"team_id": "acme", "expires_in_days": -1}, "expires_in_days"),
        ("/admin/keys", {"team_id": "acme", "key_hash": "x"}, "key_hash"),
    ],
)
def test_inputs_are_validated(client: TestClient, path: str, body: dict[str, Any], param: str) -> None:
    resp = client.post(path, json=body, headers=ADMIN)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param


def test_invalid_json_and_missing_team(client: TestClient) -> None:
    resp = client.post("/admin/teams", content=b"{nope", headers=ADMIN)
    assert resp.status_code == 400
    resp = client.post("/admin/keys", json={"team_id": "ghost"}, headers=ADMIN)
    assert resp.status_code == 404 and resp.json()["error"]["param"] == "team_id"


def test_key_lifecycle_with_the_openai_sdk(client: TestClient) -> None:
    created = _team_and_key(client, name="ci", expires_in_days=30, limits={"rpm": 10})
    secret, key_id = created["key"], created["key_id"]
    assert secret.startswith("sk-gw-") and created["prefix"] == secret[:10] and created["expires_at"]
    assert _sdk(client, secret).models.list().data == []
    resp = client.get("/v1/models", headers={"x-api-key": secret})
    assert resp.status_code == 200 and resp.json()["team_id"] == "acme"

    for view in (
        client.get(f"/admin/keys/{key_id}", headers=ADMIN).json(),
        client.get("/admin/keys?team_id=acme", headers=ADMIN).json()["data"][0],
    ):
        assert "key" not in view and "key_hash" not in view and secret not in str(view)
        assert view["key_id"] == key_id and view["name"] == "ci"

    patched = client.patch(
        f"/admin/keys/{key_id}", json={"name": "ci-2", "limits": {"tpm": 99}}, headers=ADMIN
    )
    assert patched.json()["name"] == "ci-2" and patched.json()["limits"]["rpm"] == 10
    assert client.post(f"/admin/keys/{key_id}/revoke", headers=ADMIN).json()["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError) as err:
        _sdk(client, secret).models.list()
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    assert secret not in str(err.value)
    assert client.post(f"/admin/keys/{key_id}/rotate", headers=ADMIN).status_code == 400


def test_missing_key_with_the_openai_sdk(client: TestClient) -> None:
    sdk = openai.OpenAI(
        api_key="x",
        base_url="http://testserver/v1",
        http_client=client,
        max_retries=0,
        default_headers={"Authorization": ""},
    )
    with pytest.raises(openai.AuthenticationError) as err:
        sdk.models.list()
    assert "didn't provide an API key" in str(err.value)


def test_rotation_with_and_without_grace(client: TestClient) -> None:
    old = _team_and_key(client, name="svc", allowed_models=["m1"])
    resp = client.post(f"/admin/keys/{old['key_id']}/rotate", json={"grace_seconds": 3600}, headers=ADMIN)
    assert resp.status_code == 201
    new = resp.json()
    assert new["key"] != old["key"] and new["name"] == "svc" and new["allowed_models"] == ["m1"]
    assert new["rotated_from"]["key_id"] == old["key_id"] and new["rotated_from"]["expires_at"]
    assert "key" not in new["rotated_from"]
    assert _sdk(client, old["key"]).models.list() is not None  # still inside its grace period
    assert _sdk(client, new["key"]).models.list() is not None
    newer = client.post(f"/admin/keys/{new['key_id']}/rotate", headers=ADMIN).json()
    assert newer["rotated_from"]["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError):
        _sdk(client, new["key"]).models.list()
    assert _sdk(client, newer["key"]).models.list() is not None
    bad = client.post(f"/admin/keys/{new['key_id']}/rotate", json={"grace_seconds": -1}, headers=ADMIN)
    assert bad.status_code == 400


def test_deleting_a_team_revokes_its_keys(client: TestClient) -> None:
    created = _team_and_key(client)
    assert _sdk(client, created["key"]).models.list() is not None
    resp = client.delete("/admin/teams/acme", headers=ADMIN).json()
    assert resp["revoked_key_ids"] == [created["key_id"]]
    with pytest.raises(openai.AuthenticationError):
        _sdk(client, created["key"]).models.list()
    assert client.get(f"/admin/keys/{created['key_id']}", headers=ADMIN).json()["status"] == "revoked"


@pytest.mark.parametrize(("body", "param"), [
    ({"monthly_budget_usd": "1e5000"}, "monthly_budget_usd"),
    ({"monthly_budget_usd": 1e300}, "monthly_budget_usd"),
    ({"monthly_budget_usd": "0.0000000001"}, "monthly_budget_usd"),
    ({"limits": {"rpm": 10**30}}, "limits.rpm"),
])
def test_absurd_amounts_are_refused_and_nothing_is_stored(
    client: TestClient, body: dict[str, Any], param: str
) -> None:
    """Hardening #5: "1e5000" used to be stored while the API answered 500, breaking every list after."""
    resp = client.post("/admin/teams", json={"team_id": "absurd", "team_name": "x", **body}, headers=ADMIN)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param, resp.text
    assert client.get("/admin/teams/absurd", headers=ADMIN).status_code == 404
    assert client.get("/admin/teams", headers=ADMIN).status_code == 200
    _team_and_key(client)
    changed = client.patch("/admin/teams/acme", json=body, headers=ADMIN)
    assert changed.status_code == 400
    assert client.get("/admin/keys", headers=ADMIN).status_code == 200


def test_huge_dates_and_graces_are_400s_and_rotation_is_all_or_nothing(client: TestClient) -> None:
    created = _team_and_key(client)
    too_far = client.post("/admin/keys", json={"team_id": "acme", "expires_in_days": 1e12}, headers=ADMIN)
    assert too_far.status_code == 400 and too_far.json()["error"]["param"] == "expires_in_days"
    before = len(client.get("/admin/keys", headers=ADMIN).json()["data"])
    rotated = client.post(f"/admin/keys/{created['key_id']}/rotate", json={"grace_seconds": 10**15}, headers=ADMIN)
    assert rotated.status_code == 400 and rotated.json()["error"]["param"] == "grace_seconds"
    assert len(client.get("/admin/keys", headers=ADMIN).json()["data"]) == before  # no orphan key


def test_a_budget_stored_before_the_bounds_still_reads(client: TestClient) -> None:
    from decimal import Decimal

    from proxy.auth import parse

    assert parse.money_json(Decimal("1e5000")) == "1E+5000"  # shown, never a 500 on GET /admin/teams
    assert parse.money_json(Decimal("12.5")) == 12.5


def test_deeply_nested_admin_bodies_are_400s(client: TestClient) -> None:
    raw = b'{"team_id": "deep", "team_name": "x", "tags": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}"
    resp = client.post("/admin/teams", content=raw, headers={**ADMIN, "content-type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"


def test_answers_with_a_secret_are_never_cached(client: TestClient) -> None:
    created = client.post("/admin/teams", json={"team_id": "nc", "team_name": "x"}, headers=ADMIN)
    assert created.status_code == 201
    key = client.post("/admin/keys", json={"team_id": "nc"}, headers=ADMIN)
    assert key.headers["cache-control"] == "no-store"
    rotated = client.post(f"/admin/keys/{key.json()['key_id']}/rotate", json={}, headers=ADMIN)
    assert rotated.status_code == 201 and rotated.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/admin/teams", {"team_id": "acme-nl\n", "team_name": "x"}, "team_id"),  # `$` matched before a newline
    ("/admin/keys", {"team_id": "acme", "expires_at": "0265-07-20T20:03:51Z"}, "expires_at"),  # stored unpadded
    ("/admin/keys", {"team_id": "acme", "expires_at": "9999-12-31T23:59:59-01:00"}, "expires_at"),  # overflow
    ("/admin/keys", {"team_id": "acme", "expires_at": "0001-01-01T00:00:00+01:00"}, "expires_at"),
])
def test_what_schemathesis_found_is_a_400(client: TestClient, path: str, body: dict[str, Any], param: str) -> None:
    client.post("/admin/teams", json={"team_id": "acme", "team_name": "Acme"}, headers=ADMIN)
    resp = client.post(path, json=body, headers=ADMIN)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param, resp.text
    fine = client.post("/admin/keys", json={"team_id": "acme", "expires_at": "2999-01-02T03:04:05+01:00"},
                       headers=ADMIN)
    assert fine.status_code == 201 and fine.json()["expires_at"] == "2999-01-02T02:04:05Z"


def test_admin_bodies_over_the_cap_are_413s(client: TestClient) -> None:
    huge = b'{"team_id": "big", "team_name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = client.post("/admin/teams", content=huge, headers={**ADMIN, "content-type": "application/json"})
    assert resp.status_code == 413
