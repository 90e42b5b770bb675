"""Start the emulator and one gateway process for a benchmark; stop both afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, wait_for_port  # noqa: E402


@contextmanager
def gateway_stack(key: str, *, pin: bool = False, **env_extra: str) -> Iterator[tuple[str, int]]:
    """Yields (chat completions URL, gateway pid). ``pin``: gateway on core 0, emulator on core 1."""
    workdir = tempfile.mkdtemp()
    emu_port, gw_port = free_port(), free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"http://127.0.0.1:{emu_port}",
           "LLM_GATEWAY_SQLITE_PATH": f"{workdir}/bench.db", "LLM_GATEWAY_USAGE_SPOOL_DIR": f"{workdir}/spool",
           "LLM_GATEWAY_DEMO_KEY": key, "LLM_GATEWAY_DEFAULT_RPM": "100000000",
           "LLM_GATEWAY_DEFAULT_TPM": "1000000000000", "LLM_GATEWAY_LOG_LEVEL": "warning", **env_extra}

    def start(cmd: list[str], cpu: str) -> subprocess.Popen[bytes]:
        prefix = ["taskset", "-c", cpu] if pin else []
        return subprocess.Popen([*prefix, *cmd], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    emulator = start([sys.executable, "-m", "bedrock_emulator", "--port", str(emu_port)], "1")
    gateway = start([sys.executable, "-m", "proxy", "serve", "--port", str(gw_port)], "0")
    try:
        wait_for_port(emu_port, proc=emulator)
        wait_for_port(gw_port, proc=gateway, timeout=60)
        yield f"http://127.0.0.1:{gw_port}/v1/chat/completions", gateway.pid
    finally:
        for proc in (gateway, emulator):
            proc.terminate()
            proc.wait(timeout=30)
