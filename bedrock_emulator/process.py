"""Run an emulator as a child process (tests, benchmarks, the offline demo); openai_emulator/process.py
uses the same runner for its own module."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} not listening on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def emulator_process(
    port: int | None = None, args: Sequence[str] = (), *, timeout: float = 15.0, module: str = "bedrock_emulator"
) -> Iterator[str]:
    """Start ``python -m <module>`` on loopback; yield its base URL; stop it on exit."""
    port = port or _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc, timeout, module)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
