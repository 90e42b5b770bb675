"""Run the OpenAI emulator as a child process (tests, benchmarks, the offline demo)."""

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


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"openai emulator exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"openai emulator not listening on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def emulator_process(
    port: int | None = None, args: Sequence[str] = (), *, timeout: float = 15.0
) -> Iterator[str]:
    """Start ``python -m openai_emulator`` on loopback; yield its base URL (no ``/v1``); stop it on exit."""
    port = port or _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openai_emulator", "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc, timeout)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
