"""`llm-gateway demo`: the Bedrock emulator and the gateway on embedded defaults, fully offline."""

from __future__ import annotations

import contextlib
import ctypes
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from proxy.settings import environ_snapshot

DEMO_STATE = Path("var/demo.json")
DEMO_CATALOG = Path("var/demo-catalog.toml")
# The demo's mixed catalog: the packaged one plus an OpenAI-compatible upstream (the bundled OpenAI
# emulator) and a model that falls back from Bedrock to it (issue 11's acceptance shape).
DEMO_PROVIDERS = """
# --- added by `llm-gateway demo`: an OpenAI-compatible upstream and a model with a fallback ---------------
[providers.local]
kind = "openai_compatible"
base_url = "http://127.0.0.1:{port}/v1"
api_key_env = "LOCAL_LLM_KEY"

[models."echo-mini"]
description = "The bundled OpenAI emulator, as any OpenAI-compatible upstream (vLLM, Ollama, ...)"
deployments = [ {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.0001", output = "0.0002" }}

[models."claude-3-haiku-ha"]
description = "Claude 3 Haiku on Bedrock, falling back to the OpenAI-compatible upstream"
deployments = [ {{ provider = "bedrock", model = "anthropic.claude-3-haiku-20240307-v1:0" }},
                {{ provider = "local", model = "echo-mini" }} ]
pricing = {{ input = "0.00025", output = "0.00125" }}
"""


def _demo_catalog(openai_port: int) -> str:
    from importlib import resources

    packaged = resources.files("proxy.catalog").joinpath("catalog.toml").read_text(encoding="utf-8")
    DEMO_CATALOG.parent.mkdir(parents=True, exist_ok=True)
    DEMO_CATALOG.write_text(packaged + DEMO_PROVIDERS.format(port=openai_port), encoding="utf-8")
    return str(DEMO_CATALOG)


def _demo_secrets() -> dict[str, str]:
    """Stable across restarts, so the printed key keeps working; never committed (var/ is ignored)."""
    if DEMO_STATE.exists():
        return dict(json.loads(DEMO_STATE.read_text()))
    state = {
        "api_key": "sk-demo-" + secrets.token_urlsafe(32),
        "admin_key": "sk-admin-demo-" + secrets.token_urlsafe(32),
    }
    DEMO_STATE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_STATE.write_text(json.dumps(state))
    DEMO_STATE.chmod(0o600)
    return state


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llm-gateway demo: a process exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"llm-gateway demo: nothing listening on port {port} after {timeout}s")


def _banner(host: str, port: int, state: dict[str, str]) -> str:
    base = f"http://{host}:{port}"
    return f"""
LLM Gateway demo is running at {base}
  upstreams: the bundled Bedrock emulator and OpenAI emulator; store: SQLite; limiter: in-process
  models: the packaged catalog, echo-mini (OpenAI-compatible) and claude-3-haiku-ha (Bedrock, falling back)

  API key   (team "demo"): {state['api_key']}
  Admin key (/admin/*):    {state['admin_key']}

Try:
  curl -s {base}/v1/chat/completions -H "Authorization: Bearer {state['api_key']}" \\
       -H "Content-Type: application/json" \\
       -d '{{"model": "claude-3-haiku", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  python -c "from openai import OpenAI; c = OpenAI(base_url='{base}/v1', api_key='{state['api_key']}'); \\
print(c.chat.completions.create(model='claude-3-haiku', messages=[{{'role': 'user', 'content': 'Hi'}}]))"

  curl -s {base}/v1/usage?days=7 -H "x-api-key: {state['api_key']}"
Press Ctrl-C to stop.
"""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the demo process dies (Linux prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def run_demo(*, host: str, port: int, emulator_port: int, openai_port: int | None = None) -> int:
    state = _demo_secrets()
    openai_port = openai_port or emulator_port + 1
    env = environ_snapshot()
    env.update({
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"http://127.0.0.1:{emulator_port}",
        "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID") or "demo",
        "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY") or "demo",
        "AWS_REGION": env.get("AWS_REGION") or "us-east-1",
        "LLM_GATEWAY_DEMO_KEY": state["api_key"],
        "LLM_GATEWAY_ADMIN_KEY": env.get("LLM_GATEWAY_ADMIN_KEY") or state["admin_key"],
        "LLM_GATEWAY_MODEL_CATALOG": env.get("LLM_GATEWAY_MODEL_CATALOG") or _demo_catalog(openai_port),
        "LOCAL_LLM_KEY": env.get("LOCAL_LLM_KEY") or state["api_key"].replace("sk-demo-", "sk-local-"),
    })
    # `kill <demo pid>` must not orphan the emulator and the gateway (hardening #8): SIGTERM and SIGHUP
    # unwind like Ctrl-C so the finally below stops them, and on Linux they die with us even on SIGKILL.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    emulator = subprocess.Popen(
        [sys.executable, "-m", "bedrock_emulator", "--host", "127.0.0.1", "--port", str(emulator_port)], env=env,
        preexec_fn=_die_with_parent,
    )
    upstream = subprocess.Popen(
        [sys.executable, "-m", "openai_emulator", "--host", "127.0.0.1", "--port", str(openai_port),
         "--api-key", env["LOCAL_LLM_KEY"]], env=env, preexec_fn=_die_with_parent,
    )
    gateway = None
    try:
        _wait_for(emulator_port, emulator)
        _wait_for(openai_port, upstream)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--host", host, "--port", str(port)], env=env,
            preexec_fn=_die_with_parent,
        )
        _wait_for(port, gateway)
        print(_banner(host, port, {**state, "admin_key": env["LLM_GATEWAY_ADMIN_KEY"]}), flush=True)
        return gateway.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in (gateway, upstream, emulator):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
