"""Upstream cost: BedrockClient (aiohttp + cached SigV4 + hand decoder) vs boto3 in a thread pool.

Both talk to the bundled emulator on loopback (a separate process, so the client-side CPU per request
is what ``time.process_time`` measures here). Also: per-event decode cost and per-request signing cost.

    .venv/bin/python benchmarks/bench_upstream.py [--requests 2000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.eventstream import EventStreamBuffer

from bedrock_emulator.process import emulator_process
from proxy.providers.bedrock.client import BedrockClient
from proxy.providers.bedrock.eventstream import EventStreamDecoder, encode_message
from proxy.providers.bedrock.sigv4 import SigV4Signer
from proxy.settings import Settings

JSON_TYPE = "application/json"
MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
BODY = {"messages": [{"role": "user", "content": [{"text": "Say hello to the benchmark, please."}]}]}
STREAM_BODY = {"messages": [{"role": "user", "content": [{"text": "EMULATOR:words=50"}]}]}


def measure(run) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


async def ours(url: str, total: int, concurrency: int, stream: bool) -> None:
    client = BedrockClient(Settings.from_env({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url}))
    await client.start()
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            if stream:
                async with await client.converse_stream(MODEL, STREAM_BODY, request_id="b") as events:
                    async for _ in events:
                        pass
            else:
                await client.converse(MODEL, BODY, request_id="b")

    await asyncio.gather(*(one() for _ in range(total)))
    await client.close()


def boto3_pool(url: str, total: int, concurrency: int, stream: bool) -> None:
    client = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1",
                          config=Config(max_pool_connections=concurrency, retries={"total_max_attempts": 1}))

    def one(_: int) -> None:
        if stream:
            for _event in client.converse_stream(modelId=MODEL, **STREAM_BODY)["stream"]:
                pass
        else:
            client.converse(modelId=MODEL, **BODY)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(total)))


def decode_costs(events: int = 20_000, repeats: int = 5) -> tuple[float, float]:
    """Best of ``repeats``: one frame per network read, as Bedrock paces tokens."""
    headers = {":event-type": "contentBlockDelta", ":content-type": JSON_TYPE, ":message-type": "event"}
    payload = orjson.dumps({"contentBlockIndex": 0, "delta": {"text": "token "}, "p": "abcd"})
    frame = encode_message(headers, payload)

    def ours_run() -> None:
        decoder = EventStreamDecoder()
        for _ in range(events):
            decoder.feed(frame)

    def botocore_run() -> None:
        buffer = EventStreamBuffer()
        for _ in range(events):
            buffer.add_data(frame)
            list(buffer)

    ours_cpu = min(measure(ours_run)[1] for _ in range(repeats))
    boto_cpu = min(measure(botocore_run)[1] for _ in range(repeats))
    return ours_cpu / events * 1e6, boto_cpu / events * 1e6


def sign_costs(count: int = 5_000) -> tuple[float, float]:
    creds = ReadOnlyCredentials("AKID", "secret", "token")
    body = orjson.dumps(BODY)
    path = "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    signer = SigV4Signer("us-east-1")
    def ours_run() -> None:
        for _ in range(count):
            signer.sign(creds, method="POST", host="h", path=path, headers=headers, body=body)

    _, ours_cpu = measure(ours_run)
    auth = SigV4Auth(creds, "bedrock", "us-east-1")

    def botocore_run() -> None:
        for _ in range(count):
            auth.add_auth(AWSRequest("POST", f"https://h{path}", headers=dict(headers), data=body))

    _, boto_cpu = measure(botocore_run)
    return ours_cpu / count * 1e6, boto_cpu / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    n, c = args.requests, args.concurrency
    rows = []
    with emulator_process() as url:
        for stream in (False, True):
            total = n if not stream else n // 4
            kind = "converse-stream (50 words)" if stream else "converse"
            asyncio.run(ours(url, 50, c, stream))  # warm-up: connections, credentials
            wall, cpu = measure(lambda: asyncio.run(ours(url, total, c, stream)))  # noqa: B023
            rows.append((f"BedrockClient {kind}", total / wall, cpu / total * 1e6))
            wall, cpu = measure(lambda: boto3_pool(url, total, c, stream))  # noqa: B023
            rows.append((f"boto3 + {c} threads {kind}", total / wall, cpu / total * 1e6))
    print(f"\n{n} requests, concurrency {c}, emulator on loopback (client-process CPU only)\n")
    print(f"| {'variant':<46} | {'req/s':>8} | {'CPU µs/req':>10} |")
    print(f"|{'-' * 48}|{'-' * 10}|{'-' * 12}|")
    for name, rps, cpu_us in rows:
        print(f"| {name:<46} | {rps:>8.0f} | {cpu_us:>10.0f} |")
    ours_us, boto_us = decode_costs()
    print(f"\ndecode per event: ours {ours_us:.2f} µs, botocore EventStreamBuffer {boto_us:.2f} µs")
    ours_us, boto_us = sign_costs()
    print(f"SigV4 sign per request: ours (cached key) {ours_us:.1f} µs, botocore SigV4Auth {boto_us:.1f} µs")


if __name__ == "__main__":
    main()
