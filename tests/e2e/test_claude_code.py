"""The real Claude Code CLI (npm @anthropic-ai/claude-code, pinned in the Makefile) through the gateway.

Direct mode as a user sets it up after the README's quick start: ANTHROPIC_BASE_URL (no /v1) and the team
key in ANTHROPIC_AUTH_TOKEN. Offline: the upstream is the bundled emulator; telemetry and updates are off.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Gateway

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = Path(os.environ.get("CLAUDE_CODE_BIN", ROOT / ".tools/claude-code/node_modules/.bin/claude"))


def team_key(gateway: Gateway) -> str:
    team_id = "cc-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        assert admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id}).status_code == 201
        return str(admin.post("/admin/keys", json={"team_id": team_id}).json()["key"])


def claude(gateway: Gateway, key: str, prompt: str, tmp_path: Path, *, model: str = "claude-3-haiku",
           **env: str) -> subprocess.CompletedProcess[str]:
    if not CLAUDE.exists():
        pytest.fail(f"the Claude Code CLI is not installed at {CLAUDE}: run `make install` (npm)")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environ = {"PATH": os.environ["PATH"], "HOME": str(home), "ANTHROPIC_BASE_URL": gateway.url,
               "ANTHROPIC_AUTH_TOKEN": key, "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
               "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", **env}
    return subprocess.run([str(CLAUDE), "-p", prompt, "--model", model], env=environ, cwd=home,
                          capture_output=True, text=True, timeout=120)


def usage_requests(gateway: Gateway, key: str, at_least: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        report = httpx.get(f"{gateway.base_url}/usage?days=1", headers={"x-api-key": key}).json()
        total = int(report["summary"]["total_requests"])
        if total >= at_least or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


@pytest.mark.parametrize("model", ["claude-3-haiku", "claude-sonnet-4-5-20250929"])
def test_claude_p_gets_the_reply_and_is_metered(gateway: Gateway, tmp_path: Path, model: str) -> None:
    key = team_key(gateway)
    done = claude(gateway, key, "EMULATOR:reply=hello from the gateway", tmp_path, model=model)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "hello from the gateway"
    assert usage_requests(gateway, key, 1) >= 1  # the CLI's calls are in the team's usage


def test_a_tool_call_round_trip(gateway: Gateway, emulator_url: str, tmp_path: Path) -> None:
    key = team_key(gateway)
    done = claude(gateway, key, "look around EMULATOR:tool", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()  # the model's answer after the tool ran
    last = httpx.get(f"{emulator_url}/_emulator/last_request").json()
    body = str(last)
    assert "tool_result" in body or "toolResult" in body  # the CLI sent the tool's result back
    assert usage_requests(gateway, key, 2) >= 2  # the tool_use turn and the tool_result turn


def test_an_upstream_failure_is_a_clean_cli_error(gateway: Gateway, tmp_path: Path) -> None:
    key = team_key(gateway)
    done = claude(gateway, key, "EMULATOR:error=ValidationException:400", tmp_path)  # not retried
    assert done.returncode == 1
    assert "API Error: 400 Emulated ValidationException" in done.stdout  # Bedrock's message, in Anthropic's envelope
