"""CLI: teams/keys/tables against the SQLite store, driven in-process through a tiny argparse root."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from proxy.cli.keys import register


def cli(*argv: str) -> int:
    root = argparse.ArgumentParser(prog="llm-gateway")
    register(root.add_subparsers(required=True))
    args = root.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("LLM_GATEWAY_SQLITE_PATH", str(path))
    monkeypatch.setenv("LLM_GATEWAY_STORE", "sqlite")
    monkeypatch.delenv("REDIS_URL", raising=False)
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert cli(*argv, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_keys_create_makes_the_team_and_prints_the_secret_once(db: Path, capsys) -> None:
    out = run_json(capsys, "keys", "create", "--team-id", "acme", "--team-name", "Acme Corp", "--rpm", "60")
    assert out["key"].startswith("sk-gw-") and out["team_id"] == "acme" and out["key_id"].startswith("key_")
    assert out["limits"]["rpm"] == 60
    teams = run_json(capsys, "teams", "list")["data"]
    assert [(t["team_id"], t["team_name"]) for t in teams] == [("acme", "Acme Corp")]
    keys = run_json(capsys, "keys", "list", "--team-id", "acme")["data"]
    assert [k["key_id"] for k in keys] == [out["key_id"]] and "key" not in keys[0]
    raw = sqlite3.connect(db).execute("SELECT * FROM api_keys").fetchall()
    assert out["key"] not in repr(raw)


def test_teams_create_update_delete(db: Path, capsys) -> None:
    team = run_json(
        capsys,
        "teams",
        "create",
        "--team-id",
        "ml",
        "--team-name",
        "ML",
        "--cost-center",
        "cc-9",
        "--rpm",
        "100",
        "--tpm",
        "5000",
        "--max-concurrency",
        "4",
        "--monthly-budget-usd",
        "99.5",
        "--models",
        "a,b",
        "--tag",
        "env=prod",
        "--tag",
        "owner=x",
    )
    assert team["limits"] == {"rpm": 100, "tpm": 5000, "max_concurrency": 4}
    assert team["monthly_budget_usd"] == 99.5 and team["allowed_models"] == ["a", "b"]
    assert team["tags"] == {"env": "prod", "owner": "x"} and team["cost_center"] == "cc-9"
    team = run_json(capsys, "teams", "update", "ml", "--rpm", "none", "--models", "all")
    assert team["limits"]["rpm"] is None and team["limits"]["tpm"] == 5000 and team["allowed_models"] is None
    key = run_json(capsys, "keys", "create", "--team-id", "ml", "--name", "bot", "--expires-in-days", "7")
    assert key["name"] == "bot" and key["expires_at"]
    deleted = run_json(capsys, "teams", "delete", "ml")
    assert deleted["revoked_key_ids"] == [key["key_id"]]


def test_revoke_and_rotate(db: Path, capsys) -> None:
    first = run_json(capsys, "keys", "create", "--team-id", "acme")
    rotated = run_json(capsys, "keys", "rotate", first["key_id"], "--grace-seconds", "60")
    assert rotated["key"] != first["key"] and rotated["rotated_from"]["expires_at"]
    revoked = run_json(capsys, "keys", "revoke", rotated["key_id"])
    assert revoked["status"] == "revoked"


def test_errors_exit_nonzero_with_a_message(db: Path, capsys) -> None:
    assert cli("keys", "revoke", "key_doesnotexist") == 1
    assert "No key with id" in capsys.readouterr().err
    assert cli("teams", "create", "--team-id", "bad id", "--team-name", "x") == 1
    assert cli("teams", "create", "--team-id", "t1", "--team-name", "x") == 0
    assert cli("teams", "create", "--team-id", "t1", "--team-name", "x") == 1
    assert "already exists" in capsys.readouterr().err


def test_text_output_and_tables_create(db: Path, capsys) -> None:
    assert cli("tables", "create") == 0
    assert cli("keys", "create", "--team-id", "acme") == 0
    captured = capsys.readouterr()
    assert "key=sk-gw-" in captured.out and "cannot be shown again" in captured.err
    tables = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"teams", "api_keys"} <= tables


def test_stored_control_characters_are_printed_escaped(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Hardening (Low): a team name with ANSI escapes must not drive the operator's terminal."""
    assert cli("teams", "create", "--team-id", "esc", "--team-name", "evil\x1b[2J\nname") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b[2J\\nname" in out
