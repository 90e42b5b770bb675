"""End-to-end harness: the real emulator and real gateway processes on loopback ports."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import free_port, wait_for_port

DEMO_KEY = "sk-e2e-" + "k" * 40
ADMIN_KEY = "sk-admin-e2e-" + "a" * 40


@dataclass
class Gateway:
    url: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def client(self, key: str = DEMO_KEY, **kwargs: object) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, **kwargs)  # type: ignore[arg-type]

    def async_client(self, key: str = DEMO_KEY) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=key, max_retries=0)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bedrock_emulator", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


GatewayFactory = Callable[..., Gateway]


@pytest.fixture(scope="session")
def start_gateway(
    emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayFactory]:
    """Starts `llm-gateway serve` processes; extra env vars per call; all stopped at session end."""
    started: list[Gateway] = []

    def start(**env_overrides: str) -> Gateway:
        workdir = tmp_path_factory.mktemp("gateway")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_GATEWAY_", "REDIS_URL"))}
        env.update({
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "LLM_GATEWAY_SQLITE_PATH": str(workdir / "gateway.db"),
            "LLM_GATEWAY_USAGE_SPOOL_DIR": str(workdir / "spool"),
            "LLM_GATEWAY_DEMO_KEY": DEMO_KEY,
            "LLM_GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "LLM_GATEWAY_DEFAULT_RPM": "100000",
            "LLM_GATEWAY_USAGE_FLUSH_INTERVAL_S": "0.2",
            # Every test calls from 127.0.0.1, many with wrong keys on purpose: the failed-attempt throttle
            # would lock the shared gateway for a minute. It is tested on gateways of its own.
            "LLM_GATEWAY_ADMIN_FAILURES_PER_MINUTE": "1000000",
            "LLM_GATEWAY_KEY_FAILURES_PER_MINUTE": "1000000",
        })
        env.update(env_overrides)
        log_path = workdir / "gateway.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "proxy", "serve", "--port", str(port)], env=env,
                stdout=log, stderr=subprocess.STDOUT,
            )
        gateway = Gateway(f"http://127.0.0.1:{port}", env, proc, log_path)
        started.append(gateway)
        try:
            wait_for_port(port, proc=proc, timeout=30)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{gateway.logs()}") from None
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture(scope="session")
def gateway(start_gateway: GatewayFactory) -> Gateway:
    """One shared gateway on embedded defaults (SQLite, in-process limiter) for most e2e tests."""
    return start_gateway()
