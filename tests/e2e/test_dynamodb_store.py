"""The production store shape end to end: a gateway on DynamoDB (moto server over HTTP) and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import DEMO_KEY, GatewayFactory
from tests.e2e.test_openai_sdk import user

pytestmark = pytest.mark.e2e


def test_gateway_on_dynamodb_and_redis(start_gateway: GatewayFactory, dynamodb_server: str, redis_url: str) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}-"
    env = {"LLM_GATEWAY_STORE": "dynamodb", "LLM_GATEWAY_DYNAMODB_TABLE_PREFIX": prefix,
           "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_server, "REDIS_URL": redis_url}
    created = subprocess.run([sys.executable, "-m", "proxy", "tables", "create"],
                             env={**_base_env(), **env}, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    gateway = start_gateway(**env)
    completion = gateway.client().chat.completions.create(model="nova-micro", messages=user("EMULATOR:reply=hi"))
    assert completion.choices[0].message.content == "hi"
    chunks = list(gateway.client().chat.completions.create(
        model="nova-micro", messages=user("EMULATOR:words=5"), stream=True
    ))
    assert chunks[-1].choices[0].finish_reason == "stop"
    deadline = time.monotonic() + 10
    while True:
        report = httpx.get(f"{gateway.base_url}/usage?days=1", headers={"x-api-key": DEMO_KEY}).json()
        if report["summary"]["total_requests"] >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert report["summary"]["total_requests"] == 2
    by_model = {entry["model"]: entry for entry in report["by_model"]}
    assert by_model["nova-micro"]["tokens"] == report["summary"]["total_tokens"] > 0


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("LLM_GATEWAY_", "REDIS_URL"))}
