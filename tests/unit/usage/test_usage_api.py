"""GET /v1/usage (own team only, product-sheet shape, days validation) and the admin report / CSV / CLI."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from proxy.admin import usage as admin_usage
from proxy.api import usage as usage_api
from proxy.auth.admin_key import AdminGuard
from proxy.auth.principal import Principal
from proxy.cli import usage as cli_usage
from proxy.errors import AuthenticationFailed, GatewayError
from proxy.settings import Settings
from proxy.usage import reports
from proxy.usage.store.sqlite import SQLiteUsageStore

from .usage_fakes import FakeStore, make_record

ADMIN = "admin-secret"


class FakeAuth:
    async def authenticate(self, headers, client=None) -> Principal:  # type: ignore[no-untyped-def]
        token = headers.get("authorization", "")
        if token == "Bearer key-a":
            return Principal(team_id="team-a", team_name="Team A", key_id="k-a")
        if token == "Bearer key-b":
            return Principal(team_id="team-b", team_name="Team B", key_id="k-b")
        raise AuthenticationFailed("bad key")


async def on_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    return JSONResponse(exc.body(), status_code=exc.status)


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    today = datetime.now(UTC)
    s.rows = {r.request_id: r for r in [
        make_record(1, cost="0.1234567891"[:11], ts=today.isoformat()),
        make_record(2, cost="0.000000500", ts=today.isoformat(), model="llama"),
        make_record(3, cost="1", ts=(today - timedelta(days=2)).isoformat()),
        make_record(4, cost="5", ts=(today - timedelta(days=40)).isoformat()),
        make_record(5, team="team-b", cost="99", ts=today.isoformat()),
    ]}
    return s


@pytest.fixture
def client(store: FakeStore) -> TestClient:
    app = Starlette(routes=[Route("/v1/usage", usage_api.usage_endpoint), *admin_usage.routes],
                    exception_handlers={GatewayError: on_error})
    app.state.services = types.SimpleNamespace(auth=FakeAuth(), usage_store=store, usage=None, limiter=None,
                                               settings=Settings.from_env({}), catalog=None,
                                               admin_guard=AdminGuard(ADMIN))
    return TestClient(app)


def test_usage_has_the_product_sheet_shape(client: TestClient) -> None:
    body = client.get("/v1/usage?days=7", headers={"authorization": "Bearer key-a"}).json()
    today = datetime.now(UTC).date()
    assert body["team_id"] == "team-a" and body["team_name"] == "Team A"
    assert body["period"] == {"days": 7, "start": (today - timedelta(days=6)).isoformat(),
                              "end": today.isoformat()}
    assert body["summary"] == {"total_requests": 3, "total_tokens": 16 + 18 + 20,
                               "total_cost_usd": 1.123457289, "avg_daily_cost_usd": 0.160493898}
    by_model = {entry.pop("model"): entry for entry in body["by_model"]}  # a list, as the product sheet shows
    assert [e for e in body["by_model"]] == [by_model["claude-x"], by_model["llama"]]  # in model order
    assert by_model["llama"] == {"requests": 1, "tokens": 19, "prompt_tokens": 12,
                                         "completion_tokens": 7, "cost_usd": 5e-07}  # exact
    assert set(by_model) == {"claude-x", "llama"}
    assert len(body["by_day"]) == 7 and body["by_day"][-1]["date"] == today.isoformat()
    assert body["by_day"][-1]["requests"] == 2 and body["by_day"][-3]["cost_usd"] == 1.0
    assert body["by_day"][0] == {"date": (today - timedelta(days=6)).isoformat(), "requests": 0,
                                 "tokens": 0, "cost_usd": 0.0}


def test_default_is_thirty_days_and_a_team_sees_only_its_own(client: TestClient) -> None:
    body = client.get("/v1/usage", headers={"authorization": "Bearer key-b"}).json()
    assert body["period"]["days"] == 30 and body["team_id"] == "team-b"
    assert body["summary"]["total_requests"] == 1 and body["summary"]["total_cost_usd"] == 99.0


@pytest.mark.parametrize("days", ["0", "-3", "367", "100000000000000000000", "abc", "1.5", ""])
def test_bad_days_is_a_400(client: TestClient, days: str) -> None:
    resp = client.get(f"/v1/usage?days={days}", headers={"authorization": "Bearer key-a"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "days"
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_usage_needs_a_key(client: TestClient) -> None:
    assert client.get("/v1/usage").status_code == 401


def test_admin_report_needs_admin(client: TestClient) -> None:
    assert client.get("/admin/usage", headers={"authorization": "Bearer key-a"}).status_code == 403


def test_admin_report_groups_and_csv(client: TestClient) -> None:
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=10)).isoformat()
    auth = {"authorization": f"Bearer {ADMIN}"}
    body = client.get(f"/admin/usage?from={start}&to={today}&group_by=team", headers=auth).json()
    assert [(g["group"], g["requests"], g["cost_usd"]) for g in body["data"]] == [
        ("team-a", 3, "1.123457289"), ("team-b", 1, "99.000000000")]
    query = f"from={start}&to={today}&group_by=model&team_id=team-a"
    one = client.get(f"/admin/usage?{query}", headers=auth).json()
    assert [g["group"] for g in one["data"]] == ["claude-x", "llama"]
    csv = client.get(f"/admin/usage?from={start}&to={today}&group_by=team&format=csv", headers=auth)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == ",".join(reports.CSV_COLUMNS)
    assert lines[2].startswith(f"{start},{today},team-b,1,")


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=2026-11-30&to=2026-11-01", "group_by=key",
                                   "format=xml"])
def test_admin_report_rejects_bad_parameters(client: TestClient, query: str) -> None:
    resp = client.get(f"/admin/usage?{query}", headers={"authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 400


async def test_cli_report_csv_reads_the_configured_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "gw.db"
    sqlite = SQLiteUsageStore(str(db))
    await sqlite.start()
    await sqlite.write_batch([make_record(i, team=t, cost="0.5", ts=f"2026-11-0{1 + i % 3}T10:00:00Z")
                              for i in range(6) for t in ("a", "b")])
    await sqlite.close()
    monkeypatch.setattr(Settings, "from_env", classmethod(lambda cls: Settings(sqlite_path=str(db))))
    parser = __import__("argparse").ArgumentParser()
    cli_usage.register(parser.add_subparsers())
    for fmt in ("csv", "json", "table"):
        args = parser.parse_args(["usage", "report", "--from", "2026-11-01", "--to", "2026-11-30",
                                  "--group-by", "cost_center", "--format", fmt])
        assert await __import__("asyncio").to_thread(args.func, args) == 0
    out = capsys.readouterr().out
    assert "2026-11-01,2026-11-30,cc-42,12,0,0,0,0,0,0,6.000000000" not in out  # tokens are counted
    assert "2026-11-01,2026-11-30,cc-42,12," in out and ",6.000000000\n" in out
    assert Decimal("6") == Decimal(out.split('"cost_usd": "')[1].split('"')[0])


@pytest.mark.parametrize("hostile", ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                     "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(hostile: str) -> None:
    """Hardening #6: cost_center (or a team id or model name) = a formula must stay text in the export."""
    from datetime import date

    report = [{"group": hostile + "\0", "requests": 1, "cost_usd": "0.5"}]
    text = reports.report_csv(report, date(2026, 1, 1), date(2026, 1, 31))
    row = text.splitlines()[1]
    assert "\0" not in text
    assert row.split(",")[2].lstrip('"').startswith("'")
    assert reports.csv_cell("-2+3") == "'-2+3" and reports.csv_cell(5) == 5 and reports.csv_cell("team-a") == "team-a"
