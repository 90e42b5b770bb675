"""Shutdown (hardening #8): `kill` of the demo leaves no orphan; SIGTERM drains the gateway and books every call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_for_port

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_the_demo_stops_its_emulator_and_gateway(tmp_path: Path, sig: signal.Signals) -> None:
    gw_port, emu_port, openai_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_GATEWAY_", "REDIS_URL"))}
    demo = subprocess.Popen([sys.executable, "-m", "proxy", "demo", "--port", str(gw_port),
                             "--emulator-port", str(emu_port), "--openai-emulator-port", str(openai_port)],
                            cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(gw_port, proc=demo, timeout=60)
        kids = children_of(demo.pid)
        assert len(kids) == 3, kids  # the Bedrock emulator, the OpenAI emulator and the gateway
        demo.send_signal(sig)
        demo.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(k) for k in kids):
            time.sleep(0.1)
        assert not any(alive(k) for k in kids), "the demo's children outlived it"
    finally:
        if demo.poll() is None:
            demo.kill()
