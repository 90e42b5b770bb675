"""Bedrock's own routes through the gateway: boto3 and Claude Code in Bedrock mode, metered like chat.

The client speaks Bedrock Runtime to the gateway's URL with a team key in x-api-key; its SigV4 (if any)
is ignored, the model id goes through the catalog, the answer's bytes come back unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.config import Config

from tests.e2e.conftest import Gateway
from tests.e2e.test_claude_code import CLAUDE

pytestmark = pytest.mark.e2e

ANTHROPIC_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                  "messages": [{"role": "user", "content": "EMULATOR:reply=passed through"}]}


def team_key(gateway: Gateway, **team: Any) -> str:
    team_id = "pt-" + uuid.uuid4().hex[:8]
    with gateway.admin() as admin:
        assert admin.post("/admin/teams", json={"team_id": team_id, "team_name": team_id, **team}).status_code == 201
        return str(admin.post("/admin/keys", json={"team_id": team_id}).json()["key"])


def bedrock(gateway: Gateway, key: str) -> Any:
    client = boto3.client("bedrock-runtime", endpoint_url=gateway.url, region_name="us-east-1",
                          aws_access_key_id="ignored", aws_secret_access_key="ignored",
                          config=Config(retries={"max_attempts": 1}))

    def add_key(request: Any, **_: Any) -> None:
        request.headers["x-api-key"] = key

    client.meta.events.register("before-send.bedrock-runtime.*", add_key)
    return client


def requests_in_usage(gateway: Gateway, key: str, at_least: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        total = int(httpx.get(f"{gateway.base_url}/usage?days=1",
                              headers={"x-api-key": key}).json()["summary"]["total_requests"])
        if total >= at_least or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


def test_boto3_invoke_converse_and_their_streams(gateway: Gateway) -> None:
    key = team_key(gateway)
    client = bedrock(gateway, key)
    answer = json.loads(client.invoke_model(modelId="claude-3-haiku", body=json.dumps(ANTHROPIC_BODY))["body"].read())
    assert answer["content"][0]["text"] == "passed through" and answer["usage"]["output_tokens"] > 0
    streamed = client.invoke_model_with_response_stream(modelId="claude-3-haiku", body=json.dumps(ANTHROPIC_BODY))
    events = [json.loads(e["chunk"]["bytes"]) for e in streamed["body"] if "chunk" in e]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    converse = client.converse(modelId="nova-lite",
                               messages=[{"role": "user", "content": [{"text": "EMULATOR:reply=hi"}]}])
    assert converse["output"]["message"]["content"][0]["text"] == "hi"
    parts = client.converse_stream(modelId="nova-lite", messages=[{"role": "user", "content": [{"text": "hi"}]}])
    kinds = [next(iter(event)) for event in parts["stream"]]
    assert kinds[0] == "messageStart" and "metadata" in kinds
    assert requests_in_usage(gateway, key, 4) == 4  # every one booked


def test_errors_are_bedrocks_own_and_limits_apply(gateway: Gateway) -> None:
    client = bedrock(gateway, "sk-wrong-" + "x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        client.invoke_model(modelId="claude-3-haiku", body=json.dumps(ANTHROPIC_BODY))
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    key = team_key(gateway, monthly_budget_usd="0.00001")
    client = bedrock(gateway, key)
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        client.invoke_model(modelId="no-such-model", body=json.dumps(ANTHROPIC_BODY))
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    codes = []
    for _ in range(30):
        try:
            client.invoke_model(modelId="claude-3-haiku", body=json.dumps(ANTHROPIC_BODY))
        except botocore.exceptions.ClientError as exc:
            codes.append(exc.response["Error"]["Code"])
            break
    assert codes == ["ThrottlingException"]  # the budget (429 insufficient_quota), as Bedrock would say it


def test_claude_code_in_bedrock_mode(gateway: Gateway, tmp_path: Path) -> None:
    if not CLAUDE.exists():
        pytest.fail(f"the Claude Code CLI is not installed at {CLAUDE}: run `make install` (npm)")
    key = team_key(gateway)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CLAUDE_CODE_USE_BEDROCK": "1",
           "ANTHROPIC_BEDROCK_BASE_URL": gateway.url, "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
           "ANTHROPIC_CUSTOM_HEADERS": f"x-api-key: {key}", "AWS_REGION": "us-east-1",
           "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    done = subprocess.run([str(CLAUDE), "-p", "EMULATOR:reply=hello through bedrock mode", "--model",
                           "claude-3-haiku"], env=env, cwd=home, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert done.stdout.strip() == "hello through bedrock mode"
    assert requests_in_usage(gateway, key, 1) >= 1
