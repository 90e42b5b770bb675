"""DynamoDB KeyStore on the layout in proxy/tables.py; boto3 calls run in worker threads.

Access patterns: key by hash = one GetItem on KEYS; key by id = Query key_id-index then GetItem;
a team's keys = Query team_id-index; teams = GetItem / Scan. Budgets are Decimals (DynamoDB numbers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from proxy import tables
from proxy.auth.principal import ApiKey, Team
from proxy.auth.store.base import (
    apply_key_changes,
    apply_team_changes,
    key_from_item,
    key_to_item,
    team_from_item,
    team_to_item,
)
from proxy.errors import Conflict, NotFound
from proxy.settings import Settings

T = TypeVar("T")
_ser = TypeSerializer()
_de = TypeDeserializer()


def make_client(settings: Settings) -> Any:
    session = boto3.session.Session()
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return session.client(
        "dynamodb",
        region_name=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint_url,
        config=config,
    )


def _encode(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items()}


def _decode(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _put_new(c: Any, table: str, item: dict[str, Any], hash_key: str, conflict: Conflict) -> None:
    """PutItem that never overwrites: an existing item with that key raises ``conflict``."""
    try:
        c.put_item(TableName=table, Item=_encode(item), ConditionExpression=f"attribute_not_exists({hash_key})")
    except ClientError as exc:
        if _failed_condition(exc):
            raise conflict from None
        raise


def _failed_condition(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoKeyStore:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        self._client = client
        self._teams = tables.TEAMS.name(settings.dynamodb_table_prefix)
        self._keys = tables.KEYS.name(settings.dynamodb_table_prefix)

    async def _run(self, fn: Callable[[Any], T]) -> T:
        def call() -> T:
            if self._client is None:  # created lazily in a worker thread: no I/O at construction
                self._client = make_client(self._settings)
            return fn(self._client)

        return await asyncio.to_thread(call)

    # --- keys ---------------------------------------------------------------------------------
    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._run(lambda c: self._key_by_hash(c, key_hash))

    def _key_by_hash(self, c: Any, key_hash: str) -> ApiKey | None:
        resp = c.get_item(TableName=self._keys, Key={"key_hash": {"S": key_hash}}, ConsistentRead=True)
        return key_from_item(_decode(resp["Item"])) if "Item" in resp else None

    def _key_by_id(self, c: Any, key_id: str) -> ApiKey | None:
        resp = c.query(
            TableName=self._keys,
            IndexName="key_id-index",
            KeyConditionExpression="key_id = :k",
            ExpressionAttributeValues={":k": {"S": key_id}},
        )
        if not resp["Items"]:
            return None
        # the index may lag; the base table is the truth
        return self._key_by_hash(c, resp["Items"][0]["key_hash"]["S"])

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._run(lambda c: self._key_by_id(c, key_id))

    async def list_keys(self, team_id: str | None = None) -> list[ApiKey]:
        def query(c: Any) -> list[ApiKey]:
            if team_id is None:
                items = _paginate(c, "scan", TableName=self._keys)
            else:
                items = _paginate(
                    c,
                    "query",
                    TableName=self._keys,
                    IndexName="team_id-index",
                    KeyConditionExpression="team_id = :t",
                    ExpressionAttributeValues={":t": {"S": team_id}},
                )
            keys = [key_from_item(_decode(i)) for i in items]
            return sorted(keys, key=lambda k: (k.created_at, k.key_id))

        return await self._run(query)

    async def put_key(self, key: ApiKey) -> None:
        def put(c: Any) -> None:
            conflict = Conflict(f"Key '{key.key_id}' already exists.", param="key_id")
            if self._key_by_id(c, key.key_id) is not None:
                raise conflict
            _put_new(c, self._keys, key_to_item(key), "key_hash", conflict)

        await self._run(put)

    async def update_key(self, key_id: str, **changes: Any) -> ApiKey:
        def update(c: Any) -> ApiKey:
            key = self._key_by_id(c, key_id)
            if key is None:
                raise NotFound(f"No key with id '{key_id}'.", param="key_id")
            key = apply_key_changes(key, changes)
            c.put_item(
                TableName=self._keys,
                Item=_encode(key_to_item(key)),
                ConditionExpression="attribute_exists(key_hash)",
            )
            return key

        return await self._run(update)

    async def touch_last_used(self, key_id: str, ts: str) -> None:
        def touch(c: Any) -> None:
            key = self._key_by_id(c, key_id)
            if key is None:
                return
            try:
                c.update_item(
                    TableName=self._keys,
                    Key={"key_hash": {"S": key.key_hash}},
                    UpdateExpression="SET last_used_at = :ts",
                    ConditionExpression="attribute_exists(key_hash)",
                    ExpressionAttributeValues={":ts": {"S": ts}},
                )
            except ClientError as exc:
                if not _failed_condition(exc):
                    raise

        await self._run(touch)

    # --- teams --------------------------------------------------------------------------------
    def _team(self, c: Any, team_id: str) -> Team | None:
        resp = c.get_item(TableName=self._teams, Key={"team_id": {"S": team_id}}, ConsistentRead=True)
        return team_from_item(_decode(resp["Item"])) if "Item" in resp else None

    async def get_team(self, team_id: str) -> Team | None:
        return await self._run(lambda c: self._team(c, team_id))

    async def list_teams(self) -> list[Team]:
        def scan(c: Any) -> list[Team]:
            teams = [team_from_item(_decode(i)) for i in _paginate(c, "scan", TableName=self._teams)]
            return sorted(teams, key=lambda t: t.team_id)

        return await self._run(scan)

    async def put_team(self, team: Team) -> None:
        def put(c: Any) -> None:
            conflict = Conflict(f"Team '{team.team_id}' already exists.", param="team_id")
            _put_new(c, self._teams, team_to_item(team), "team_id", conflict)

        await self._run(put)

    async def update_team(self, team_id: str, **changes: Any) -> Team:
        def update(c: Any) -> Team:
            team = self._team(c, team_id)
            if team is None:
                raise NotFound(f"No team with id '{team_id}'.", param="team_id")
            team = apply_team_changes(team, changes)
            c.put_item(
                TableName=self._teams,
                Item=_encode(team_to_item(team)),
                ConditionExpression="attribute_exists(team_id)",
            )
            return team

        return await self._run(update)

    async def delete_team(self, team_id: str) -> list[ApiKey]:
        if await self.get_team(team_id) is None:
            raise NotFound(f"No team with id '{team_id}'.", param="team_id")
        revoked = []
        # keys first: a crash in between leaves a team with revoked keys, never live keys without a team
        for key in await self.list_keys(team_id):
            revoked.append(await self.update_key(key.key_id, status="revoked"))
        await self._run(lambda c: c.delete_item(TableName=self._teams, Key={"team_id": {"S": team_id}}))
        return revoked

    async def create_tables(self) -> None:
        await self._run(
            lambda c: create_tables(c, self._settings.dynamodb_table_prefix, (tables.TEAMS, tables.KEYS))
        )

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _paginate(c: Any, op: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        resp = getattr(c, op)(**kwargs)
        items.extend(resp["Items"])
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _table_spec(table: tables.Table, prefix: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "TableName": table.name(prefix),
        "KeySchema": _key_schema(table.hash_key, table.range_key),
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in sorted(table.attribute_types.items())
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.indexes:
        spec["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": _key_schema(i.hash_key, i.range_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for i in table.indexes
        ]
    return spec


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def create_tables(client: Any, prefix: str, which: tuple[tables.Table, ...] = tables.ALL_TABLES) -> list[str]:
    """Create the tables that do not exist yet (idempotent); returns the names created."""
    created = []
    for table in which:
        try:
            client.create_table(**_table_spec(table, prefix))
            created.append(table.name(prefix))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
            continue
        client.get_waiter("table_exists").wait(TableName=table.name(prefix), WaiterConfig={"Delay": 1})
        if table.ttl_attribute:
            client.update_time_to_live(
                TableName=table.name(prefix),
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
    return created


def create_all_tables(settings: Settings) -> list[str]:
    """Blocking: every table in tables.ALL_TABLES (for `llm-gateway tables create` and tests)."""
    client = make_client(settings)
    try:
        return create_tables(client, settings.dynamodb_table_prefix)
    finally:
        client.close()
