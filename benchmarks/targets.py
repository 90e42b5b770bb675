"""What the suite calls: the emulator directly, llm-gateway as deployed, or a peer, all on one emulator.

A :class:`Target` turns a workload (plain, slow, stream, hold) into a URL, headers and body. The
emulator and the gateway start here; peers live in ``peers/``.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import procs

ROOT = Path(__file__).resolve().parents[1]
BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ALIAS = "claude-3-haiku"  # the catalog's name for BEDROCK_MODEL (the peer is configured with the same)
REDIS_DB = 13  # the suite's own Redis database: flushed before and after, nothing else is touched

# The emulator's directives (bedrock_emulator/README.md), one workload each.
WORKLOADS = {
    "plain": ("EMULATOR:reply=ok", False),
    "slow": ("EMULATOR:delay_ms=50 EMULATOR:reply=ok", False),
    "stream": ("EMULATOR:words=50 EMULATOR:chunk_delay_ms=20", True),
    "hold": ("EMULATOR:delay_ms=1000 EMULATOR:reply=ok", False),
}
# The emulator checks that a request is signed, not the signature (no --verify-sigv4): a fixed header is
# the cheapest client there is, which is what "direct" should cost.
FAKE_SIGV4 = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/bedrock/aws4_request, "
                               "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
              "X-Amz-Date": "20260101T000000Z", "Content-Type": "application/json"}


@dataclass
class Target:
    name: str
    base_url: str
    headers: dict[str, str]
    pid: int | None = None  # None: nothing of ours between the client and the emulator
    admin_headers: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def direct(self) -> bool:
        return self.pid is None

    def request(self, workload: str) -> dict[str, object]:
        """The loadgen spec of one workload: url, headers, body, and how to read a stream."""
        text, stream = WORKLOADS[workload]
        if self.direct:
            op = "converse-stream" if stream else "converse"
            body: dict[str, object] = {"messages": [{"role": "user", "content": [{"text": text}]}]}
            url, protocol = f"{self.base_url}/model/{BEDROCK_MODEL}/{op}", "eventstream" if stream else "json"
        else:
            body = {"model": ALIAS, "messages": [{"role": "user", "content": text}], "stream": stream}
            url, protocol = f"{self.base_url}/v1/chat/completions", "sse" if stream else "json"
        return {"url": url, "headers": self.headers, "body": json.dumps(body), "protocol": protocol}


def _http_json(method: str, url: str, headers: dict[str, str], payload: object | None = None) -> object:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def emulator_calls(emulator_url: str) -> dict[str, int]:
    calls = _http_json("GET", f"{emulator_url}/_emulator/calls", {})
    assert isinstance(calls, dict)
    return calls


@contextmanager
def emulator(placement: procs.Placement, workdir: Path) -> Iterator[tuple[str, int]]:
    """The Bedrock emulator on the load generator's core; yields (URL, pid)."""
    port = free_port()
    proc = procs.start([*placement.prefix(placement.rest), sys.executable, "-m", "bedrock_emulator",
                        "--port", str(port), "--log-level", "warning"],
                       env=dict(os.environ), cwd=ROOT, log=workdir / "emulator.log")
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_http(f"{url}/_emulator/calls", timeout=30, proc=proc)
        yield url, proc.pid
    finally:
        procs.stop(proc)


def flush_redis(redis_url: str) -> None:
    import redis  # the gateway's own dependency

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


@contextmanager
def gateway(placement: procs.Placement, workdir: Path, emulator_url: str, redis_host: str) -> Iterator[Target]:
    """``llm-gateway serve`` as deployed: Redis limiter, SQLite store, usage recording, auth cache, metrics.

    One team with rpm, tpm, concurrency and a monthly budget, so every admission checks all four. The
    front door's caps are raised above the 2,000-stream load (a deployment sized for it would do the same).
    """
    port, admin_key = free_port(), "adm-" + secrets.token_hex(20)
    redis_url = f"redis://{redis_host}/{REDIS_DB}"
    flush_redis(redis_url)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url, "REDIS_URL": redis_url,
           "LLM_GATEWAY_STORE": "sqlite", "LLM_GATEWAY_SQLITE_PATH": str(workdir / "gateway.db"),
           "LLM_GATEWAY_USAGE_SPOOL_DIR": str(workdir / "spool"), "LLM_GATEWAY_ADMIN_KEY": admin_key,
           "LLM_GATEWAY_KEY_PEPPER": secrets.token_hex(32), "LLM_GATEWAY_LOG_LEVEL": "warning",
           "LLM_GATEWAY_HTTP_MAX_IN_FLIGHT": "5000", "LLM_GATEWAY_HTTP_MAX_CONNECTIONS": "5000",
           "LLM_GATEWAY_UPSTREAM_MAX_CONNECTIONS": "4000", "WEB_CONCURRENCY": "1"}
    cli = str(Path(sys.executable).with_name("llm-gateway"))
    proc = procs.start([*placement.prefix(placement.target), cli, "serve", "--port", str(port)],
                       env=env, cwd=workdir, log=workdir / "gateway.log")
    base = f"http://127.0.0.1:{port}"
    try:
        procs.wait_http(f"{base}/v1/models", timeout=60, proc=proc)
        admin = {"Authorization": f"Bearer {admin_key}"}
        _http_json("POST", f"{base}/admin/teams", admin, {
            "team_id": "bench", "team_name": "bench", "monthly_budget_usd": "1000000",
            "limits": {"rpm": 10_000_000, "tpm": 1_000_000_000_000, "max_concurrency": 10_000}})
        created = _http_json("POST", f"{base}/admin/keys", admin, {"team_id": "bench", "name": "bench"})
        assert isinstance(created, dict)
        yield Target("llm-gateway", base, {"Authorization": f"Bearer {created['key']}"}, proc.pid, admin)
    finally:
        procs.stop(proc)
        flush_redis(redis_url)


def gateway_metric(target: Target, name: str) -> float | None:
    """One counter from the gateway's /metrics (summed over its label sets); None if absent."""
    request = urllib.request.Request(f"{target.base_url}/metrics",
                                     headers=target.admin_headers)
    with urllib.request.urlopen(request, timeout=10) as resp:
        text = resp.read().decode()
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name) and line[len(name):len(name) + 1] in {" ", "{"}]
    return sum(values) if values else None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
