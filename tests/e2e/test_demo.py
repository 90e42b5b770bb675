"""`llm-gateway demo` (the README's first command): the mixed catalog runs offline from a fresh directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from tests.conftest import free_port, wait_for_port

pytestmark = pytest.mark.e2e


def test_demo_serves_bedrock_an_openai_compatible_upstream_and_a_fallback(tmp_path: Path) -> None:
    port, bedrock, upstream = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_GATEWAY_", "REDIS_URL", "AWS_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "demo", "--port", str(port), "--emulator-port", str(bedrock),
         "--openai-emulator-port", str(upstream)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc=proc, timeout=60)
        key = json.loads((tmp_path / "var" / "demo.json").read_text())["api_key"]
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        for model, deployment in (("claude-3-haiku", "bedrock/anthropic.claude-3-haiku-20240307-v1:0"),
                                  ("echo-mini", "local/echo-mini"),
                                  ("claude-3-haiku-ha", "bedrock/anthropic.claude-3-haiku-20240307-v1:0")):
            raw = client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "Hi"}])
            assert raw.parse().choices[0].message.content == "Echo: Hi", model
            assert raw.headers["x-gateway-deployment"] == deployment
        names = {m.id for m in client.models.list()}
        assert {"claude-3-haiku", "echo-mini", "claude-3-haiku-ha", "titan-embed-text-v2"} <= names
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
