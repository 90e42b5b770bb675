"""Shared fixtures: free ports, the real Redis on loopback (single and a 3-master cluster), moto DynamoDB.

Services are never skipped: a test that needs one fails with a message saying how to start it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.redis_cluster import LoopbackCluster, missing_tools

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A private, throwaway redis-server (for tests that kill and restart it)."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc)
    return proc


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis on 127.0.0.1:6379 (CI starts it); fails, never skips, when it is down."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is required at {REDIS_URL} ({exc}). Start it: "
            "redis-server --daemonize yes --port 6379 --save '' --appendonly no"
        )
    finally:
        client.close()
    return REDIS_URL


ClusterFactory = Callable[..., LoopbackCluster]


@pytest.fixture(scope="session")
def start_redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterFactory]:
    """Starts private 3-master Redis Clusters on free loopback ports (tests/redis_cluster.py); all are
    stopped at session end. Fails, never skips, without redis-server."""
    started: list[LoopbackCluster] = []

    def start(**options: object) -> LoopbackCluster:
        problem = missing_tools()
        if problem:
            pytest.fail(f"a Redis Cluster is required for this test: {problem}")
        cluster = LoopbackCluster(Path(tmp_path_factory.mktemp("redis-cluster")), **options)  # type: ignore[arg-type]
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster(start_redis_cluster: ClusterFactory) -> LoopbackCluster:
    """One 3-master cluster shared by the session's tests that do not kill nodes."""
    return start_redis_cluster()


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: LoopbackCluster) -> str:
    """redis://127.0.0.1:<first master>/0; with LLM_GATEWAY_REDIS_CLUSTER=true the client finds the rest."""
    return redis_cluster.url


@pytest.fixture(scope="session")
def dynamodb_server() -> Iterator[str]:
    """A moto DynamoDB-compatible server over HTTP for the whole session; yields its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real AWS: dummy credentials and a fixed region everywhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
