"""`llm-gateway teams|keys|tables ...`: manage teams and keys directly in the configured store.

Each subcommand sets `func(args) -> int` (exit status). With REDIS_URL set, every change is broadcast
so running gateways drop their cached keys within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.auth import invalidation as auth_sync
from proxy.auth import ops as keyops
from proxy.auth import parse as keyparse
from proxy.auth.store.base import KeyStore
from proxy.errors import GatewayError, InvalidRequest
from proxy.observability.logs import escape
from proxy.services import open_keystore
from proxy.settings import Settings

Action = Callable[[KeyStore, Settings, keyops.Invalidate, argparse.Namespace], Awaitable[Any]]
_SUPPRESS = argparse.SUPPRESS


def register(subparsers: Any) -> None:
    _register_teams(subparsers.add_parser("teams", help="create, list, update and delete teams"))
    _register_keys(subparsers.add_parser("keys", help="create, list, revoke and rotate API keys"))
    tables = subparsers.add_parser("tables", help="create storage tables").add_subparsers(required=True)
    _command(tables, "create", _tables_create, "create DynamoDB tables (or the SQLite schema)")


def _command(group: Any, name: str, action: Action, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=lambda args: run(action, args))
    return parser


def _limit_flags(parser: argparse.ArgumentParser, *, team: bool) -> None:
    parser.add_argument(
        "--rpm", type=_limit, default=_SUPPRESS, help="requests per minute ('none': no limit)"
    )
    parser.add_argument("--tpm", type=_limit, default=_SUPPRESS, help="tokens per minute ('none': no limit)")
    parser.add_argument("--max-concurrency", type=_limit, default=_SUPPRESS, help="requests in flight")
    parser.add_argument("--monthly-budget-usd", default=_SUPPRESS, help="monthly budget in USD ('none')")
    parser.add_argument("--models", default=_SUPPRESS, help="comma-separated allow-list ('all': every model)")
    if team:
        parser.add_argument("--cost-center", default=_SUPPRESS)
        parser.add_argument("--tag", action="append", default=_SUPPRESS, help="metadata tag k=v (repeatable)")


def _register_teams(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(required=True)
    create = _command(group, "create", _teams_create, "create a team")
    create.add_argument("--team-id", required=True)
    create.add_argument("--team-name", required=True)
    _limit_flags(create, team=True)
    _command(group, "list", _teams_list, "list teams")
    update = _command(group, "update", _teams_update, "change a team (only the options given)")
    update.add_argument("team_id")
    update.add_argument("--team-name", default=_SUPPRESS)
    _limit_flags(update, team=True)
    delete = _command(group, "delete", _teams_delete, "delete a team and revoke all its keys")
    delete.add_argument("team_id")


def _register_keys(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(required=True)
    create = _command(group, "create", _keys_create, "create a key (and its team if missing)")
    create.add_argument("--team-id", required=True)
    create.add_argument("--team-name", help="name for the team if it has to be created")
    create.add_argument("--name", default=_SUPPRESS, help="what the key is for")
    create.add_argument("--expires-in-days", type=float, default=_SUPPRESS)
    _limit_flags(create, team=False)
    listing = _command(group, "list", _keys_list, "list keys (never secrets)")
    listing.add_argument("--team-id")
    revoke = _command(group, "revoke", _keys_revoke, "revoke a key now")
    revoke.add_argument("key_id")
    rotate = _command(group, "rotate", _keys_rotate, "new secret with the same settings")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace-seconds", type=int, default=0, help="old key keeps working this long")


def _limit(raw: str) -> int | None:
    return None if raw.lower() == "none" else int(raw)


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    """CLI options -> the JSON body the admin API would take (so both validate the same way)."""
    given = vars(args)
    body: dict[str, Any] = {}
    limits = {k: given[k] for k in keyparse.LIMIT_FIELDS if k in given}
    if limits:
        body["limits"] = limits
    if "monthly_budget_usd" in given:
        raw = given["monthly_budget_usd"]
        body["monthly_budget_usd"] = None if raw.lower() == "none" else raw
    if "models" in given:
        raw = given["models"].strip()
        body["allowed_models"] = None if raw == "all" else [m.strip() for m in raw.split(",") if m.strip()]
    if "tag" in given:
        body["tags"] = dict(t.partition("=")[::2] for t in given["tag"])
    for name in ("team_name", "cost_center", "name", "expires_in_days"):
        if given.get(name) is not None:
            body[name] = given[name]
    return body


def run(action: Action, args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    try:
        result = asyncio.run(_with_store(action, settings, args))
    except GatewayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    _print(result, as_json=args.json)
    return 0


async def _with_store(action: Action, settings: Settings, args: argparse.Namespace) -> Any:
    store = open_keystore(settings)
    try:
        return await action(store, settings, _broadcaster(settings), args)
    finally:
        await store.close()


def _broadcaster(settings: Settings) -> keyops.Invalidate:
    async def invalidate(*, key_hash: str | None = None, team_id: str | None = None) -> None:
        if not settings.redis_url:
            return
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
        try:
            await asyncio.to_thread(auth_sync.publish_sync, client, key_hash, team_id)
        except redis.RedisError as exc:
            print(
                f"warning: saved, but the cache invalidation broadcast failed ({exc}); "
                "running gateways apply the change within 60 s",
                file=sys.stderr,
            )
        finally:
            client.close()

    return invalidate


def _print(result: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=False))
        return
    rows = result["data"] if isinstance(result, dict) and result.get("object") == "list" else [result]
    for row in rows:
        # Stored names and tags are operator input: printed escaped, a terminal never interprets them.
        print("  ".join(f"{k}={escape(str(v))}" for k, v in row.items()
                        if v not in (None, {}, [], "") and k != "object"))
    if isinstance(result, dict) and result.get("key"):
        print("Store this key now: it cannot be shown again.", file=sys.stderr)


def _listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items}


# --- actions ------------------------------------------------------------------------------------
async def _teams_create(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    team = keyops.new_team(keyparse.team_create({"team_id": a.team_id, **_fields(a)}), s)
    return keyops.team_json(await keyops.create_team(store, team, inv))


async def _teams_list(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    return _listing([keyops.team_json(t) for t in await store.list_teams()])


async def _teams_update(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    changes = keyparse.team_changes(_fields(a))
    return keyops.team_json(await keyops.update_team(store, keyparse.team_id(a.team_id), changes, inv))


async def _teams_delete(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    revoked = await keyops.delete_team(store, a.team_id, inv)
    return {"object": "team.deleted", "team_id": a.team_id, "revoked_key_ids": [k.key_id for k in revoked]}


async def _keys_create(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    body = {"team_id": a.team_id, **_fields(a)}
    team_name = body.pop("team_name", None) or a.team_id
    fields = keyparse.key_create(body)
    if await store.get_team(a.team_id) is None:
        team = keyops.new_team(keyparse.team_create({"team_id": a.team_id, "team_name": team_name}), s)
        await keyops.create_team(store, team, inv)
    key, secret = await keyops.create_key(store, s, fields, inv)
    return keyops.key_json(key, secret)


async def _keys_list(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    team_id = None if a.team_id is None else keyparse.team_id(a.team_id)
    return _listing([keyops.key_json(k) for k in await store.list_keys(team_id)])


async def _keys_revoke(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    return keyops.key_json(await keyops.revoke_key(store, a.key_id, inv))


async def _keys_rotate(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    if a.grace_seconds < 0:
        raise InvalidRequest("--grace-seconds must be >= 0", param="grace_seconds")
    old, new, secret = await keyops.rotate_key(store, s, a.key_id, a.grace_seconds, inv)
    return {**keyops.key_json(new, secret), "rotated_from": keyops.key_json(old)}


async def _tables_create(store: KeyStore, s: Settings, inv: keyops.Invalidate, a: argparse.Namespace) -> Any:
    if s.store == "dynamodb":
        from proxy.auth.store.dynamodb import create_all_tables

        created = await asyncio.to_thread(create_all_tables, s)
        return {"object": "tables", "store": "dynamodb", "created": created}
    await store.create_tables()
    return {"object": "tables", "store": "sqlite", "path": s.sqlite_path}
