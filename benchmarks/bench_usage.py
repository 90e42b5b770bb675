"""Usage recording costs: record() on the hot path (µs/call) and flush throughput (records/s).

Run: .venv/bin/python benchmarks/bench_usage.py [--records N]
DynamoDB numbers are against moto's server, which deep-copies a table for every transaction item:
they measure moto, not DynamoDB (kept small on purpose).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.services import open_usage_store
from proxy.settings import Settings
from proxy.usage.recorder import UsageRecorder
from proxy.usage.store.base import UsageRecord, UsageStore


def make(i: int, run: str) -> UsageRecord:
    return UsageRecord(request_id=f"{run}-{i}", ts=datetime.now(UTC).isoformat(), team_id=f"team-{i % 10}",
                       key_id="k", model="claude-3-5-haiku", bedrock_model_id="us.anthropic.x",
                       prompt_tokens=1200, completion_tokens=300, total_tokens=1500,
                       cost_usd=Decimal("0.002160000"), cost_center="cc-1")


async def bench_record(n: int, spool_dir: str) -> float:
    settings = Settings.from_env({}, usage_buffer_max=n * 2, usage_spool_dir=spool_dir)
    recorder = UsageRecorder.from_settings(None, settings, batch_size=n * 2)  # type: ignore[arg-type]
    records = [make(i, "hot") for i in range(n)]
    start = time.perf_counter()
    for rec in records:
        recorder.record(rec)
    return (time.perf_counter() - start) / n * 1e6


async def bench_flush(store: UsageStore, n: int, batch: int) -> tuple[float, float]:
    run = uuid.uuid4().hex[:8]
    records = [make(i, run) for i in range(n)]
    start = time.perf_counter()
    for i in range(0, n, batch):
        await store.write_batch(records[i:i + batch])
    fresh = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(0, n, batch):
        await store.write_batch(records[i:i + batch])  # a full replay: all duplicates
    return fresh, n / (time.perf_counter() - start)


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    from tests.conftest import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=proc, timeout=30)
    return proc, f"http://127.0.0.1:{port}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--dynamodb-records", type=int, default=300)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("record() hot path", f"{await bench_record(100_000, tmp):.2f} µs/call"))
        sqlite = open_usage_store(Settings.from_env({}, sqlite_path=f"{tmp}/bench.db"))
        await sqlite.start()
        fresh, replay = await bench_flush(sqlite, args.records, 500)
        await sqlite.close()
        rows += [("flush to SQLite (batches of 500)", f"{fresh:,.0f} records/s"),
                 ("replay to SQLite (all duplicates)", f"{replay:,.0f} records/s")]
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "bench")
        proc, endpoint = start_moto()
        try:
            from proxy.auth.store.dynamodb import create_all_tables

            settings = Settings.from_env({}, store="dynamodb", dynamodb_endpoint_url=endpoint,
                                         dynamodb_table_prefix="bench-")
            create_all_tables(settings)
            dynamo = open_usage_store(settings)
            await dynamo.start()
            fresh, replay = await bench_flush(dynamo, args.dynamodb_records, 50)
            await dynamo.close()
        finally:
            proc.terminate()
            proc.wait()
        rows += [(f"flush to moto DynamoDB ({args.dynamodb_records} records)", f"{fresh:,.0f} records/s"),
                 ("replay to moto DynamoDB (all duplicates)", f"{replay:,.0f} records/s")]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value\n{'-' * width}  {'-' * 20}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    asyncio.run(main())
