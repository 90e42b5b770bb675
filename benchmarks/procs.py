"""Processes of a benchmark run: CPU placement, start/stop, and what /proc says about them (CPU, RSS)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Placement:
    """Which cores the target (a gateway) and the rest (emulator, load generator, this script) run on."""

    target: str | None
    rest: str | None

    @classmethod
    def detect(cls) -> Placement:
        cores = sorted(os.sched_getaffinity(0))
        if shutil.which("taskset") is None or len(cores) < 2:
            return cls(None, None)
        return cls(str(cores[0]), str(cores[1]))

    def prefix(self, cpu: str | None) -> list[str]:
        return ["taskset", "-c", cpu] if cpu is not None else []

    def describe(self) -> str:
        if self.target is None:
            return f"unpinned ({os.cpu_count()} core(s) or no taskset)"
        return (f"target (gateway or peer) on core {self.target}; emulator, load generator and this script on "
                f"core {self.rest}")


def start(cmd: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_http(url: str, *, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``url`` answers anything below 500 (or ``timeout`` seconds pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server may fork workers)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants, from /proc/<pid>/stat."""
    total = 0
    for one in tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def rss_bytes(pid: int) -> int:
    return sum(_status(one, "VmRSS") for one in tree(pid))


def peak_rss_bytes(pid: int) -> int:
    """VmHWM summed over the tree: the peak since start or since :func:`reset_peak_rss`."""
    return sum(_status(one, "VmHWM") for one in tree(pid))


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux's clear_refs ``5``); False if not allowed."""
    try:
        for one in tree(pid):
            Path(f"/proc/{one}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def settle(pid: int, *, idle_share: float = 0.05, timeout: float = 30.0) -> float:
    """Wait until ``pid`` uses under ``idle_share`` of a core for one second; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < idle_share:
            break
    return time.monotonic() - started
