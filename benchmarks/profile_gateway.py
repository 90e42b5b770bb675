"""Profile the gateway under the suite's 64-client non-streamed load with py-spy; print the top functions.

    .venv/bin/python benchmarks/profile_gateway.py [--seconds 20] [--top 15]

Starts the emulator and the gateway exactly as ``suite.py`` does (same placement, Redis limiter, SQLite
store, usage recording), drives it with wrk (64 connections, upstream 0 ms) and records it twice with
py-spy from a tools venv (``.venv-tools``, created on first use; py-spy never goes into ``.venv``):
once as collapsed stacks (``benchmarks/results/profile.txt``, for the own-time table printed here) and
once as a flame graph (``benchmarks/results/profile.svg``). Own time = samples whose innermost frame is
the function; samples parked in a wait (an idle thread-pool worker, the selector) are left out and
counted separately; C code under a Python frame (the event loop, extensions) counts for that frame.
The own-time pass samples without pausing the gateway (``--nonblocking``, Python frames only); the
flame graph pass uses ``--native``, which needs pausing and so slows the gateway while it records.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import procs  # noqa: E402
import scenarios  # noqa: E402
import targets  # noqa: E402

TOOLS = targets.ROOT / ".venv-tools"
IDLE = ("concurrent/futures/thread.py", "threading.py", "selectors.py", "queue.py")


def py_spy() -> Path:
    exe = TOOLS / "bin" / "py-spy"
    if not exe.exists():
        subprocess.run(["python3", "-m", "venv", str(TOOLS)], check=True)
        (TOOLS / ".gitignore").write_text("# created by benchmarks/profile_gateway.py\n*\n")
        subprocess.run([str(TOOLS / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    return exe


def record(pid: int, seconds: int, fmt: str, out: Path, placement: procs.Placement) -> str:
    """py-spy record; the flame graph with native frames if this kernel lets py-spy unwind them (that needs
    blocking sampling, which slows the gateway down); returns the flags used."""
    choices = [["--native"], ["--nonblocking"]] if fmt == "flamegraph" else [["--nonblocking"]]
    for extra in choices:
        cmd = [*placement.prefix(placement.rest), str(py_spy()), "record", "--pid", str(pid), "-d", str(seconds),
               "-r", "100", "-f", fmt, "-o", str(out), *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode == 0 and out.exists():
            return " ".join(["-f", fmt, *extra])
    raise RuntimeError(f"py-spy failed: {done.stderr[-1500:]}")


def own_time(collapsed: Path, top: int) -> list[str]:
    own: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        python = [frame for frame in frames if ".py:" in frame]
        n, leaf = int(count), re.sub(r":\d+\)$", ")", (python or frames)[-1])  # one row per function
        total += n
        if any(marker in leaf for marker in IDLE):
            idle += n
            continue
        own[leaf] += n
    busy = total - idle
    lines = [f"{total} samples, {idle} ({idle / max(total, 1):.0%}) parked in a wait and left out; "
             f"own time as a share of the other {busy}:", "", "| # | own | function (file) |", "|---|---|---|"]
    lines += [f"| {i} | {n / max(busy, 1):.1%} | `{leaf}` |" for i, (leaf, n) in enumerate(own.most_common(top), 1)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--redis", default="127.0.0.1:6379")
    args = parser.parse_args()
    placement, results = procs.Placement.detect(), HERE / "results"
    results.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llm-gateway-profile-") as tmp:
        workdir = Path(tmp)
        with targets.emulator(placement, workdir) as (emulator_url, emulator_pid), \
                targets.gateway(placement, workdir, emulator_url, args.redis) as gateway:
            ctx = scenarios.Context(emulator_url, emulator_pid, placement, scenarios.Sizes.pick(False), workdir)
            spec = gateway.request("plain")
            scenarios.wrk(ctx, spec, 3)
            flags = []
            for fmt, out in (("raw", results / "profile.txt"), ("flamegraph", results / "profile.svg")):
                spy = threading.Thread(target=lambda f=fmt, o=out: flags.append(
                    record(gateway.pid or 0, args.seconds, f, o, placement)))
                spy.start()
                load = scenarios.wrk(ctx, spec, args.seconds + 3)
                spy.join()
                print(f"py-spy {flags[-1]} → {out.relative_to(targets.ROOT)}; under it the gateway served "
                      f"{load['rps']:,.0f} req/s ({load['errors']} errors)")
    print("\n".join(["", *own_time(results / "profile.txt", args.top)]))


if __name__ == "__main__":
    main()
