"""Per-request authentication cost: warm cache, negative cache, forged keys, cold SQLite lookups.

Run: .venv/bin/python benchmarks/bench_auth.py [--n 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from proxy.auth import ops as keyops
from proxy.auth.authenticator import Authenticator
from proxy.auth.store.sqlite import SqliteKeyStore
from proxy.errors import AuthenticationFailed
from proxy.settings import Settings


async def _timed(label: str, n: int, call) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(n):
        await call()
    per_op = (time.perf_counter() - started) / n * 1e6
    print(f"{label:<48} {per_op:8.2f} µs/op  ({n:,} calls)")


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({}, sqlite_path=str(Path(tmp) / "bench.db"), key_pepper="bench")
        store = SqliteKeyStore(settings.sqlite_path)
        await keyops.create_team(store, keyops.new_team({"team_id": "acme", "team_name": "Acme"}, settings))
        _, secret = await keyops.create_key(store, settings, {"team_id": "acme"})
        auth = Authenticator(store, settings)
        headers = {"authorization": f"Bearer {secret}"}
        await auth.authenticate(headers)
        await _timed("warm cache hit (Bearer)", n, lambda: auth.authenticate(headers))
        await _timed("warm cache hit (x-api-key)", n, lambda: auth.authenticate({"x-api-key": secret}))

        async def rejected(h: dict[str, str]) -> None:
            with contextlib.suppress(AuthenticationFailed):
                await auth.authenticate(h)

        forged = {"authorization": "Bearer " + secret[:-1] + ("A" if secret[-1] != "A" else "B")}
        await _timed("forged sk-gw- key (offline checksum reject)", n, lambda: rejected(forged))
        legacy = {"authorization": "Bearer some-unknown-key-in-another-format"}
        await rejected(legacy)
        await _timed("unknown key, negative cache hit", n, lambda: rejected(legacy))

        async def cold() -> None:
            await auth.invalidate()
            await auth.authenticate(headers)

        await _timed("cold lookup, SQLite (key + team read)", max(n // 100, 200), cold)
        await auth.close()
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().n))
