"""LiteLLM's proxy as a peer: its own venv, one Bedrock model on the suite's emulator, master key, no DB.

``litellm[proxy]==1.108.7`` goes into ``.venv-litellm`` (never the project's ``.venv``) on first use; the
proxy runs one worker on the target's core with its defaults otherwise (as a user would start it).
Before any scenario, one request must reach the emulator (its call counter) and answer 200.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import procs
from targets import ALIAS, BEDROCK_MODEL, ROOT, Target, emulator_calls, free_port

VERSION = "1.108.7"
VENV = ROOT / ".venv-litellm"


def ensure_installed() -> Path:
    """The ``litellm`` executable of the peer venv, installing it first if missing or another version."""
    python, cli = VENV / "bin" / "python", VENV / "bin" / "litellm"
    if cli.exists():
        found = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if found == VERSION:
            return cli
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        # As Python 3.13's venv does: keep the venv out of git (and so out of ruff's `check .`).
        (VENV / ".gitignore").write_text("# created by benchmarks/peers/litellm.py\n*\n")
    print(f"installing litellm[proxy]=={VERSION} into {VENV} (first use only) ...", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"litellm[proxy]=={VERSION}"], check=True)
    return cli


def config(emulator_url: str, master_key: str) -> str:
    """The proxy's YAML (JSON is YAML): the catalog alias routed to Bedrock at the emulator."""
    return json.dumps({
        "model_list": [{"model_name": ALIAS, "litellm_params": {
            "model": f"bedrock/{BEDROCK_MODEL}", "aws_bedrock_runtime_endpoint": emulator_url,
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_region_name": "us-east-1"}}],
        "general_settings": {"master_key": master_key},
    }, indent=2)


def verify(target: Target, emulator_url: str) -> None:
    """One plain request reaches the emulator and answers 200, or the peer is not benchmarked."""
    before = emulator_calls(emulator_url)["total"]
    spec = target.request("plain")
    request = urllib.request.Request(str(spec["url"]), data=str(spec["body"]).encode(), method="POST",
                                     headers={**target.headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        status, body = resp.status, resp.read()
    reached = emulator_calls(emulator_url)["total"] - before
    if status != 200 or reached < 1:
        raise RuntimeError(f"litellm did not reach the emulator: status {status}, emulator calls +{reached}, "
                           f"body {body[:300]!r}")
    target.notes.append(f"verified: one request answered {status} and reached the emulator ({reached} call)")


@contextmanager
def litellm(placement: procs.Placement, workdir: Path, emulator_url: str) -> Iterator[Target]:
    cli = ensure_installed()
    port, master_key = free_port(), "sk-" + secrets.token_hex(16)
    config_path = workdir / "litellm.yaml"
    config_path.write_text(config(emulator_url, master_key))
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
    env.pop("DATABASE_URL", None)
    proc = procs.start([*placement.prefix(placement.target), str(cli), "--config", str(config_path),
                        "--port", str(port), "--host", "127.0.0.1", "--num_workers", "1"],
                       env=env, cwd=workdir, log=workdir / "litellm.log")
    base = f"http://127.0.0.1:{port}"
    try:
        procs.wait_http(f"{base}/health/liveliness", timeout=180, proc=proc)
        target = Target(f"litellm {VERSION}", base, {"Authorization": f"Bearer {master_key}"}, proc.pid)
        verify(target, emulator_url)
        yield target
    finally:
        procs.stop(proc)
