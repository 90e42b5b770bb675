"""One contract suite for both KeyStores: SQLite (a file) and DynamoDB (moto's server over HTTP)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from proxy.auth import ops as keyops
from proxy.auth.principal import ApiKey, Limits, Team
from proxy.auth.store.base import KeyStore
from proxy.auth.store.dynamodb import DynamoKeyStore, create_all_tables, make_client
from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.errors import Conflict, NotFound
from proxy.settings import Settings
from proxy.tables import ALL_TABLES

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "dynamodb"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[KeyStore, Settings]]:
    if request.param == "sqlite":
        settings = Settings.from_env({}, sqlite_path=str(tmp_path / "gw.db"), key_pepper="p")
        store: KeyStore = SqliteKeyStore(settings.sqlite_path)
    else:
        settings = Settings.from_env(
            {},
            store="dynamodb",
            dynamodb_endpoint_url=request.getfixturevalue("dynamodb_server"),
            dynamodb_table_prefix=f"t{uuid.uuid4().hex[:10]}-",
            key_pepper="p",
        )
        store = DynamoKeyStore(settings)
    await store.create_tables()
    yield store, settings
    await store.close()


def _team(team_id: str = "acme", **kw: Any) -> Team:
    return Team(
        team_id=team_id, team_name=kw.pop("team_name", "Acme"), created_at="2030-01-01T00:00:00Z", **kw
    )


def _key(key_id: str, team_id: str = "acme", **kw: Any) -> ApiKey:
    return ApiKey(
        key_id=key_id,
        team_id=team_id,
        key_hash=f"hash-{key_id}",
        prefix="sk-gw-abcd",
        created_at=kw.pop("created_at", f"2030-01-01T00:00:0{key_id[-1]}Z"),
        **kw,
    )


async def test_team_round_trip_and_conflict(env) -> None:
    store, _ = env
    team = _team(
        cost_center="cc",
        limits=Limits(rpm=5, tpm=None, max_concurrency=2),
        monthly_budget_usd=Decimal("123.45"),
        allowed_models=frozenset({"m1", "m2"}),
        tags={"env": "prod"},
        updated_at="2030-01-01T00:00:00Z",
    )
    await store.put_team(team)
    assert await store.get_team("acme") == team
    with pytest.raises(Conflict):
        await store.put_team(_team(team_name="Other"))
    assert await store.get_team("nope") is None
    minimal = _team("zeta", limits=Limits(), allowed_models=frozenset())
    await store.put_team(minimal)
    assert await store.get_team("zeta") == minimal  # empty allow-list is not "all models"
    assert [t.team_id for t in await store.list_teams()] == ["acme", "zeta"]


async def test_update_team(env) -> None:
    store, _ = env
    await store.put_team(_team())
    updated = await store.update_team(
        "acme", team_name="Acme 2", monthly_budget_usd=None, limits=Limits(rpm=1), tags={"a": "b"}
    )
    assert updated.team_name == "Acme 2" and updated.updated_at
    assert await store.get_team("acme") == updated
    with pytest.raises(NotFound):
        await store.update_team("nope", team_name="x")


async def test_key_round_trip_lookups_and_conflict(env) -> None:
    store, _ = env
    key = _key(
        "key_1",
        name="ci",
        expires_at="2031-01-01T00:00:00Z",
        limits=Limits(tpm=10),
        monthly_budget_usd=Decimal("0.5"),
        allowed_models=frozenset({"m1"}),
    )
    await store.put_key(key)
    assert await store.get_key_by_hash("hash-key_1") == key
    assert await store.get_key("key_1") == key
    assert await store.get_key_by_hash("nope") is None and await store.get_key("nope") is None
    with pytest.raises(Conflict):
        await store.put_key(key)
    with pytest.raises(Conflict):
        await store.put_key(ApiKey(**{**key.__dict__, "key_hash": "other-hash"}))


async def test_list_keys(env) -> None:
    store, _ = env
    for key in (_key("key_2"), _key("key_1"), _key("key_3", team_id="other")):
        await store.put_key(key)
    assert [k.key_id for k in await store.list_keys("acme")] == ["key_1", "key_2"]
    assert [k.key_id for k in await store.list_keys()] == ["key_1", "key_2", "key_3"]
    assert await store.list_keys("empty") == []


async def test_update_key_and_touch(env) -> None:
    store, _ = env
    await store.put_key(_key("key_1"))
    updated = await store.update_key(
        "key_1",
        status="revoked",
        expires_at="2030-02-01T00:00:00Z",
        limits=Limits(rpm=3),
        allowed_models=None,
        name="n",
    )
    assert updated.status == "revoked" and await store.get_key_by_hash("hash-key_1") == updated
    with pytest.raises(NotFound):
        await store.update_key("nope", status="revoked")
    await store.touch_last_used("key_1", "2030-03-01T00:00:00Z")
    await store.touch_last_used("nope", "2030-03-01T00:00:00Z")
    assert (await store.get_key("key_1")).last_used_at == "2030-03-01T00:00:00Z"


async def test_delete_team_revokes_its_keys(env) -> None:
    store, _ = env
    await store.put_team(_team())
    await store.put_key(_key("key_1"))
    await store.put_key(_key("key_2", team_id="other"))
    revoked = await store.delete_team("acme")
    assert [k.key_id for k in revoked] == ["key_1"] and revoked[0].status == "revoked"
    assert await store.get_team("acme") is None
    assert (await store.get_key("key_1")).status == "revoked"
    assert (await store.get_key("key_2")).status == "active"
    with pytest.raises(NotFound):
        await store.delete_team("acme")


async def _raw_dump(store: KeyStore, settings: Settings) -> str:
    if isinstance(store, SqliteKeyStore):
        conn = sqlite3.connect(settings.sqlite_path)
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return json.dumps({n: conn.execute(f"SELECT * FROM {n}").fetchall() for n in names}, default=str)
    client = make_client(settings)
    items = [client.scan(TableName=t.name(settings.dynamodb_table_prefix))["Items"] for t in ALL_TABLES[:2]]
    return json.dumps(items, default=str)


async def test_no_plaintext_key_is_stored(env) -> None:
    store, settings = env
    await keyops.create_team(store, keyops.new_team({"team_id": "acme", "team_name": "Acme"}, settings))
    secrets = [(await keyops.create_key(store, settings, {"team_id": "acme"}))[1] for _ in range(3)]
    _, _, rotated = await keyops.rotate_key(store, settings, (await store.list_keys("acme"))[0].key_id)
    secrets.append(rotated)
    dump = await _raw_dump(store, settings)
    assert "hash" in dump or "key_hash" in dump
    for secret in secrets:
        assert secret not in dump and secret[6:] not in dump and secret[10:30] not in dump


def test_create_all_tables_makes_every_table(dynamodb_server: str) -> None:
    settings = Settings.from_env(
        {},
        store="dynamodb",
        dynamodb_endpoint_url=dynamodb_server,
        dynamodb_table_prefix=f"all{uuid.uuid4().hex[:8]}-",
    )
    created = create_all_tables(settings)
    assert created == [t.name(settings.dynamodb_table_prefix) for t in ALL_TABLES]
    assert create_all_tables(settings) == []  # idempotent
    client = make_client(settings)
    desc = client.describe_table(TableName=ALL_TABLES[1].name(settings.dynamodb_table_prefix))["Table"]
    assert {i["IndexName"] for i in desc["GlobalSecondaryIndexes"]} == {"key_id-index", "team_id-index"}
    ttl = client.describe_time_to_live(TableName=ALL_TABLES[2].name(settings.dynamodb_table_prefix))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_cli_against_dynamodb(dynamodb_server: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import argparse

    from proxy.cli.keys import register

    monkeypatch.setenv("LLM_GATEWAY_STORE", "dynamodb")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_server)
    monkeypatch.setenv("LLM_GATEWAY_DYNAMODB_TABLE_PREFIX", f"cli{uuid.uuid4().hex[:8]}-")
    monkeypatch.delenv("REDIS_URL", raising=False)
    root = argparse.ArgumentParser()
    register(root.add_subparsers(required=True))

    def cli(*argv: str) -> Any:
        args = root.parse_args([*argv, "--json"])
        assert args.func(args) == 0
        return json.loads(capsys.readouterr().out)

    assert len(cli("tables", "create")["created"]) == len(ALL_TABLES)
    created = cli("keys", "create", "--team-id", "acme", "--team-name", "Acme Corp", "--rpm", "60")
    assert created["key"].startswith("sk-gw-") and created["team_id"] == "acme"
    assert [k["key_id"] for k in cli("keys", "list", "--team-id", "acme")["data"]] == [created["key_id"]]
    assert cli("keys", "revoke", created["key_id"])["status"] == "revoked"
