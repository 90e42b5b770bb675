"""Gateway memory under steady load: RSS sampled while N requests (plain, streamed, bad keys) flow.

    .venv/bin/python benchmarks/bench_memory.py [--rounds 10] [--per-round 2000]

PITFALLS #50 (litellm pods OOM over time): after warm-up, RSS must stay flat, because nothing is kept
per request (bounded auth caches, usage flushed in batches). Prints RSS after each round and the growth
from round 2 to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, wait_for_port  # noqa: E402

KEY = "sk-bench-" + "m" * 40


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def round_of_traffic(url: str, count: int) -> None:
    plain = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "EMULATOR:words=30"}]}
    streamed = {**plain, "stream": True}
    async with aiohttp.ClientSession() as http:
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            body = streamed if i % 3 == 0 else plain
            key = KEY if i % 5 else "sk-bad-" + secrets.token_hex(16)  # a stream of never-seen bad keys
            async with sem, http.post(url, json=body, headers={"Authorization": f"Bearer {key}"}) as resp:
                await resp.read()

        await asyncio.gather(*(one(i) for i in range(count)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=2000)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp()
    emu_port, gw_port = free_port(), free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"http://127.0.0.1:{emu_port}",
           "LLM_GATEWAY_SQLITE_PATH": f"{workdir}/bench.db", "LLM_GATEWAY_USAGE_SPOOL_DIR": f"{workdir}/spool",
           "LLM_GATEWAY_DEMO_KEY": KEY, "LLM_GATEWAY_DEFAULT_RPM": "100000000",
           "LLM_GATEWAY_DEFAULT_TPM": "1000000000000", "LLM_GATEWAY_LOG_LEVEL": "warning"}
    emulator = subprocess.Popen([sys.executable, "-m", "bedrock_emulator", "--port", str(emu_port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gateway = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--port", str(gw_port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(emu_port, proc=emulator)
        wait_for_port(gw_port, proc=gateway, timeout=60)
        url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        samples = []
        print(f"{'round':>5} {'requests':>9} {'RSS MiB':>8}")
        for n in range(1, args.rounds + 1):
            asyncio.run(round_of_traffic(url, args.per_round))
            samples.append(rss_mib(gateway.pid))
            print(f"{n:>5} {n * args.per_round:>9} {samples[-1]:>8.1f}")
        if len(samples) > 2:
            print(f"growth from round 2 to {len(samples)}: {samples[-1] - samples[1]:+.1f} MiB "
                  f"over {(len(samples) - 2) * args.per_round} requests")
    finally:
        for proc in (gateway, emulator):
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
