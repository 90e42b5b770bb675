"""Usage store on DynamoDB (tables from proxy/tables.py: USAGE, USAGE_DAILY, BUDGET_ALERTS).

Up to 33 records per TransactWriteItems: a conditional Put of each raw record
(attribute_not_exists(request_id)) plus one UpdateItem ADD per touched daily aggregate and per touched
key x month (items of the daily table whose sort key is "key#YYYY-MM#<key_id>", outside every day range). A cancelled
batch is retried record by record; a record whose condition fails was already counted and is skipped.
boto3 is blocking, so every call runs on a small dedicated thread pool.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, TypeVar

import boto3
import orjson
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from proxy.settings import Settings
from proxy.tables import BUDGET_ALERTS, USAGE, USAGE_DAILY
from proxy.usage.money import from_nanos
from proxy.usage.store.base import COUNTERS, DailyAggregate, StoreUnavailable, UsageRecord, counters, dedupe, expires_at

T = TypeVar("T")
RECORDS_PER_TRANSACTION = 33  # 3 items per record at most; DynamoDB allows 100 per transaction
KEY_MONTH_PREFIX = "key#"  # sorts after every "YYYY-MM-DD#model" sort key, so day queries never see it
_deserialize = TypeDeserializer().deserialize


def _raw_item(rec: UsageRecord, retention_days: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "request_id": {"S": rec.request_id}, "ts": {"S": rec.ts}, "team_id": {"S": rec.team_id},
        "key_id": {"S": rec.key_id}, "model": {"S": rec.model},
        "bedrock_model_id": {"S": rec.bedrock_model_id},
        "priced": {"BOOL": rec.priced}, "estimated": {"BOOL": rec.estimated},
        "streaming": {"BOOL": rec.streaming}, "status": {"S": rec.status}, "route": {"S": rec.route},
        "latency_ms": {"N": str(rec.latency_ms)},
        "expires_at": {"N": str(expires_at(rec.ts, retention_days))},
    }
    for name, value in counters(rec).items():
        if name not in ("requests", "errors"):
            item[name] = {"N": str(value)}
    if rec.cost_center:
        item["cost_center"] = {"S": rec.cost_center}
    if rec.session_id:
        item["session_id"] = {"S": rec.session_id}
    return item


def _daily_update(table: str, key: tuple[str, str], adds: dict[str, int], cost_center: str | None) -> dict:
    names = {f"#c{i}": name for i, name in enumerate(COUNTERS)}
    values = {f":c{i}": {"N": str(adds[name])} for i, name in enumerate(COUNTERS)}
    expression = "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(COUNTERS)))
    if cost_center:
        names["#cc"] = "cost_center"
        values[":cc"] = {"S": cost_center}
        expression += " SET #cc = :cc"
    return {"Update": {
        "TableName": table,
        "Key": {"team_id": {"S": key[0]}, "day_model": {"S": key[1]}},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }}


def _key_month(period: str, key_id: str) -> str:
    return f"{KEY_MONTH_PREFIX}{period}#{key_id}"


def _cancel_codes(err: ClientError) -> list[str]:
    return [reason.get("Code", "") for reason in err.response.get("CancellationReasons", [])]


class DynamoDBUsageStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        prefix = settings.dynamodb_table_prefix
        self.usage_table = USAGE.name(prefix)
        self.daily_table = USAGE_DAILY.name(prefix)
        self.alerts_table = BUDGET_ALERTS.name(prefix)
        self._client: Any = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="usage-dynamodb")

    async def start(self) -> None:
        config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"},
                        max_pool_connections=8)
        self._client = await self._run(lambda: boto3.session.Session().client(
            "dynamodb", region_name=self.settings.aws_region,
            endpoint_url=self.settings.dynamodb_endpoint_url, config=config))

    async def close(self) -> None:
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _call(self, fn: Callable[[], T]) -> T:
        try:
            return await self._run(fn)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise
            raise StoreUnavailable(f"DynamoDB: {err}") from err
        except BotoCoreError as err:
            raise StoreUnavailable(f"DynamoDB: {err}") from err

    async def write_batch(self, records: Sequence[UsageRecord]) -> int:
        unique = dedupe(records)
        inserted = 0
        for i in range(0, len(unique), RECORDS_PER_TRANSACTION):
            inserted += await self._write_chunk(unique[i:i + RECORDS_PER_TRANSACTION])
        return inserted

    async def _write_chunk(self, chunk: list[UsageRecord]) -> int:
        try:
            await self._transact(chunk)
            return len(chunk)
        except ClientError:  # cancelled: some record was already there (a replay) or a conflict
            pass
        # One read finds the records already stored, so a replayed batch costs no per-record writes.
        stored = await self._existing([rec.request_id for rec in chunk])
        fresh = [rec for rec in chunk if rec.request_id not in stored]
        if not fresh:
            return 0
        try:
            await self._transact(fresh)
            return len(fresh)
        except ClientError:
            pass
        inserted = 0
        for rec in fresh:
            try:
                await self._transact([rec])
                inserted += 1
            except ClientError as err:
                if _cancel_codes(err)[:1] != ["ConditionalCheckFailed"]:
                    raise StoreUnavailable(f"DynamoDB transaction cancelled: {_cancel_codes(err)}") from err
        return inserted

    async def _existing(self, request_ids: list[str]) -> set[str]:
        keys = [{"request_id": {"S": rid}} for rid in request_ids]
        found: set[str] = set()
        while keys:
            request = {self.usage_table: {"Keys": keys, "ConsistentRead": True,
                                          "ProjectionExpression": "request_id"}}
            page = await self._call(functools.partial(self._client.batch_get_item, RequestItems=request))
            found |= {item["request_id"]["S"] for item in page.get("Responses", {}).get(self.usage_table, [])}
            keys = page.get("UnprocessedKeys", {}).get(self.usage_table, {}).get("Keys", [])
        return found

    async def _transact(self, chunk: list[UsageRecord]) -> None:
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.usage_table,
            "Item": _raw_item(rec, self.settings.usage_retention_days),
            "ConditionExpression": "attribute_not_exists(request_id)",
        }} for rec in chunk]
        # One transaction may not touch an item twice: merge records of the same team x day x model.
        merged: dict[tuple[str, str], dict[str, int]] = {}
        cost_centers: dict[tuple[str, str], str | None] = {}
        for rec in chunk:
            key = (rec.team_id, f"{rec.day}#{rec.model}")
            adds = merged.setdefault(key, dict.fromkeys(COUNTERS, 0))
            for name, value in counters(rec).items():
                adds[name] += value
            cost_centers[key] = rec.cost_center
        items += [_daily_update(self.daily_table, key, adds, cost_centers[key])
                  for key, adds in merged.items()]
        key_months: dict[tuple[str, str], list[int]] = {}
        for rec in chunk:
            totals = key_months.setdefault((rec.team_id, _key_month(rec.period, rec.key_id)), [0, 0])
            totals[0] += 1
            totals[1] += rec.cost_nanos
        items += [{"Update": {
            "TableName": self.daily_table,
            "Key": {"team_id": {"S": team_id}, "day_model": {"S": sort_key}},
            "UpdateExpression": "ADD requests :r, cost_nanos :c",
            "ExpressionAttributeValues": {":r": {"N": str(requests)}, ":c": {"N": str(nanos)}},
        }} for (team_id, sort_key), (requests, nanos) in key_months.items()]
        await self._call(lambda: self._client.transact_write_items(TransactItems=items))

    async def _pages(self, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = await self._call(lambda: getattr(self._client, operation)(**kwargs))
            items += [{k: _deserialize(v) for k, v in item.items()} for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    async def daily(self, team_id: str | None, start: date, end: date) -> list[DailyAggregate]:
        # "$" sorts right after "#": the range covers every model of the end day.
        values = {":a": {"S": start.isoformat()}, ":b": {"S": f"{end.isoformat()}$"}}
        if team_id is None:
            items = await self._pages("scan", TableName=self.daily_table, ConsistentRead=True,
                                      FilterExpression="day_model BETWEEN :a AND :b",
                                      ExpressionAttributeValues=values)
        else:
            values[":t"] = {"S": team_id}
            items = await self._pages("query", TableName=self.daily_table, ConsistentRead=True,
                                      KeyConditionExpression="team_id = :t AND day_model BETWEEN :a AND :b",
                                      ExpressionAttributeValues=values)
        rows = [DailyAggregate(team_id=it["team_id"], day=it["day_model"][:10], model=it["day_model"][11:],
                               cost_center=it.get("cost_center"),
                               **{name: int(it.get(name, 0)) for name in COUNTERS}) for it in items]
        return sorted(rows, key=lambda r: (r.team_id, r.day, r.model))

    async def records(self, team_id: str, start_ts: str, end_ts: str) -> list[UsageRecord]:
        items = await self._pages(
            "query", TableName=self.usage_table, IndexName=USAGE.indexes[0].name,
            KeyConditionExpression="team_id = :t AND ts BETWEEN :a AND :b",
            ExpressionAttributeValues={":t": {"S": team_id}, ":a": {"S": start_ts}, ":b": {"S": end_ts}},
        )
        recs = [_record(item) for item in items if item["ts"] < end_ts]
        return sorted(recs, key=lambda r: (r.ts, r.request_id))

    async def key_month_spend(self, team_id: str, key_id: str, period: str) -> int:
        key = {"team_id": {"S": team_id}, "day_model": {"S": _key_month(period, key_id)}}
        item = await self._call(lambda: self._client.get_item(
            TableName=self.daily_table, Key=key, ConsistentRead=True, ProjectionExpression="cost_nanos"))
        return int(item.get("Item", {}).get("cost_nanos", {}).get("N", 0))

    async def claim_alert(self, alert_id: str, item: dict[str, str]) -> bool:
        put = {"alert_id": {"S": alert_id}, "body": {"S": orjson.dumps(item).decode()}}
        try:
            await self._run(lambda: self._client.put_item(
                TableName=self.alerts_table, Item=put, ConditionExpression="attribute_not_exists(alert_id)"))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailable(f"DynamoDB: {err}") from err
        except BotoCoreError as err:
            raise StoreUnavailable(f"DynamoDB: {err}") from err
        return True


def _record(item: dict[str, Any]) -> UsageRecord:
    fields: dict[str, Any] = {name: int(item.get(name, 0)) for name in
              ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "total_tokens",
               "latency_ms")}
    return UsageRecord(
        request_id=item["request_id"], ts=item["ts"], team_id=item["team_id"], key_id=item["key_id"],
        model=item["model"], bedrock_model_id=item["bedrock_model_id"], cost_center=item.get("cost_center"),
        cost_usd=from_nanos(int(item["cost_nanos"])), priced=bool(item["priced"]),
        estimated=bool(item["estimated"]), status=item["status"], streaming=bool(item["streaming"]),
        route=item.get("route", "chat"), session_id=item.get("session_id"), **fields,
    )
