"""Gateway memory under steady load: RSS sampled while N requests (plain, streamed, bad keys) flow.

    .venv/bin/python benchmarks/bench_memory.py [--rounds 10] [--per-round 2000]

PITFALLS #50 (litellm pods OOM over time): after warm-up, RSS must stay flat, because nothing is kept
per request (bounded auth caches, usage flushed in batches). Prints RSS after each round and the growth
from round 2 to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import gateway_stack

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
    with gateway_stack(KEY) as (url, pid):
        samples = []
        print(f"{'round':>5} {'requests':>9} {'RSS MiB':>8}")
        for n in range(1, args.rounds + 1):
            asyncio.run(round_of_traffic(url, args.per_round))
            samples.append(rss_mib(pid))
            print(f"{n:>5} {n * args.per_round:>9} {samples[-1]:>8.1f}")
        if len(samples) > 2:
            print(f"growth from round 2 to {len(samples)}: {samples[-1] - samples[1]:+.1f} MiB "
                  f"over {(len(samples) - 2) * args.per_round} requests")


if __name__ == "__main__":
    main()
