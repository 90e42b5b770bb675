"""Nothing lost, nothing double counted: a DynamoDB outage mid-traffic, SIGTERM under load, restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from proxy.auth.store.dynamodb import create_all_tables
from proxy.services import open_usage_store
from proxy.settings import Settings
from proxy.usage.recorder import UsageRecorder
from proxy.usage.store.base import UsageRecord
from tests.conftest import free_port, wait_for_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def rec(i: int) -> UsageRecord:
    return UsageRecord(request_id=f"r-{i:06d}", ts=datetime.now(UTC).isoformat(), team_id="team-d",
                       key_id="k", model="claude-x", bedrock_model_id="anthropic.claude-x-v1:0",
                       prompt_tokens=i % 97, completion_tokens=3, total_tokens=i % 97 + 3,
                       cost_usd=Decimal("0.000001234") * (i % 11 + 1))


class Forwarder:
    """A TCP hop in front of moto that can be cut (connections reset, port refused) and restored."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:  # the test loop is ending; connections die with it
            pass
        finally:
            self.writers -= {writer, up_writer}


@pytest.fixture
def own_moto() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc, timeout=30)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def forwarder(own_moto: int) -> AsyncIterator[Forwarder]:
    fwd = Forwarder(own_moto)
    await fwd.up()
    yield fwd
    if fwd.server is not None and fwd.server.is_serving():
        await fwd.down()


async def traffic(recorder: UsageRecorder, ids: range) -> None:
    for i in ids:
        recorder.record(rec(i))
        if i % 10 == 0:
            await asyncio.sleep(0.01)


async def test_dynamodb_outage_loses_and_duplicates_nothing(forwarder: Forwarder, own_moto: int,
                                                            tmp_path: Path) -> None:
    prefix = f"d{uuid.uuid4().hex[:8]}-"
    create_all_tables(Settings.from_env({}, store="dynamodb", dynamodb_table_prefix=prefix,
                                        dynamodb_endpoint_url=f"http://127.0.0.1:{own_moto}"))
    settings = Settings.from_env({}, store="dynamodb", dynamodb_table_prefix=prefix,
                                 dynamodb_endpoint_url=f"http://127.0.0.1:{forwarder.port}",
                                 usage_flush_interval_s=0.05, usage_spool_dir=str(tmp_path / "spool"))
    store = open_usage_store(settings)
    await store.start()
    recorder = UsageRecorder.from_settings(store, settings, batch_size=100)
    await recorder.start()

    await traffic(recorder, range(0, 60))
    await recorder.flush()
    assert recorder.stats.written == 60
    # (Volumes stay small: moto deep-copies a table for every item of a transaction.)

    await forwarder.down()  # the store disappears mid-traffic
    await traffic(recorder, range(60, 150))
    await asyncio.sleep(0.3)
    assert recorder.stats.store_failures >= 1 and recorder.stats.spooled > 0

    await forwarder.up()  # it comes back; traffic continues
    await traffic(recorder, range(150, 180))
    await recorder.close()
    assert recorder.pending == 0

    today = datetime.now(UTC).date()
    [agg] = await store.daily("team-d", today, today)
    expected = [rec(i) for i in range(180)]
    assert agg.requests == 180
    assert agg.total_tokens == sum(r.total_tokens for r in expected)
    assert agg.cost_usd == sum((r.cost_usd for r in expected), Decimal(0))
    raw = await store.records("team-d", today.isoformat(), "9999")
    assert sorted(r.request_id for r in raw) == [f"r-{i:06d}" for i in range(180)]
    assert await store.write_batch(expected) == 0  # a full replay adds nothing
    [again] = await store.daily("team-d", today, today)
    assert again == agg
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    await store.close()


WORKER = textwrap.dedent("""
    import asyncio, signal, sys
    from datetime import UTC, datetime
    from decimal import Decimal
    from proxy.settings import Settings
    from proxy.usage.recorder import UsageRecorder
    from proxy.usage.store.base import StoreUnavailable, UsageRecord
    from proxy.services import open_usage_store

    class Down:
        async def start(self): pass
        async def close(self): pass
        async def write_batch(self, records): raise StoreUnavailable("down")

    async def main():
        settings = Settings.from_env()
        store = Down() if sys.argv[1] == "down" else open_usage_store(settings)
        await store.start()
        recorder = UsageRecorder.from_settings(store, settings)
        await recorder.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        n = 0
        while not stop.is_set():
            recorder.record(UsageRecord(request_id=f"s-{n}", ts=datetime.now(UTC).isoformat(), team_id="t",
                                        key_id="k", model="m", bedrock_model_id="b", total_tokens=1,
                                        cost_usd=Decimal("0.000000001")))
            n += 1
            if n % 25 == 0:
                print("recorded", n, flush=True)
                await asyncio.sleep(0.002)
        await recorder.close()
        await store.close()
        print("closed", n, flush=True)

    asyncio.run(main())
""")


@pytest.mark.parametrize("store_state", ["up", "down"])
async def test_sigterm_under_load_loses_nothing(tmp_path: Path, store_state: str) -> None:
    env = {**os.environ, "LLM_GATEWAY_SQLITE_PATH": str(tmp_path / "gw.db"), "PYTHONPATH": str(ROOT),
           "LLM_GATEWAY_USAGE_SPOOL_DIR": str(tmp_path / "spool"),
           "LLM_GATEWAY_USAGE_FLUSH_INTERVAL_S": "0.2"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER, store_state, env=env, cwd=ROOT,
                                                stdout=subprocess.PIPE)
    assert proc.stdout is not None
    while int((await proc.stdout.readline()).split()[1]) < 2000:
        pass
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    total = int(out.decode().strip().splitlines()[-1].split()[1])

    settings = Settings.from_env(env)
    store = open_usage_store(settings)
    await store.start()
    spooled = sum(len(p.read_bytes().splitlines()) for p in (tmp_path / "spool").glob("*.jsonl"))
    stored = sum(r.requests for r in await store.daily("t", date(2000, 1, 1), date(2100, 1, 1)))
    assert stored + spooled == total
    assert spooled == (total if store_state == "down" else 0)

    for _ in range(2):  # restart replays the spool; a second restart adds nothing
        recorder = UsageRecorder.from_settings(store, settings)
        await recorder.start()
        await recorder.close()
    [agg] = await store.daily("t", date(2000, 1, 1), date(2100, 1, 1))
    assert agg.requests == total and agg.cost_nanos == total
    await store.close()
