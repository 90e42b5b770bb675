"""Queued faults in the Bedrock emulator (``/_emulator/faults``), driven by an unmodified boto3 client.

The point of queued faults: the prompt is the same, yet one model (or one emulator) fails while another
answers — which directives in the prompt cannot express.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from bedrock_emulator.process import emulator_process

MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
OTHER = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
MESSAGES = [{"role": "user", "content": [{"text": "same prompt"}]}]


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with emulator_process() as url:
        yield url


@pytest.fixture(autouse=True)
def reset(emulator_url: str) -> None:
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()


def client(url: str, **config: Any) -> Any:
    retries = Config(retries={"mode": "standard", "total_max_attempts": 1}, **config)
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", config=retries)


@pytest.fixture
def brt(emulator_url: str) -> Any:
    return client(emulator_url)


def queue(url: str, fault: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/_emulator/faults", json=fault)
    response.raise_for_status()
    return dict(response.json())


def error_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_throttle_one_model_while_another_answers(brt: Any, emulator_url: str) -> None:
    queued = queue(emulator_url, {"error": "ThrottlingException", "count": 2, "model": MODEL})
    assert queued["faults"][0]["count"] == 2
    answered = brt.converse(modelId=OTHER, messages=MESSAGES)
    assert answered["output"]["message"]["content"] == [{"text": "Echo: same prompt"}]
    for _ in range(2):
        assert error_of(lambda: brt.converse(modelId=MODEL, messages=MESSAGES)) == ("ThrottlingException", 429)
    assert brt.converse(modelId=MODEL, messages=MESSAGES)["stopReason"] == "end_turn"
    calls = httpx.get(f"{emulator_url}/_emulator/calls").json()
    assert calls["converse"] == 4 and calls["faults_served"] == 2


def test_operation_filter_and_default_status(brt: Any, emulator_url: str) -> None:
    queue(emulator_url, {"error": "ServiceUnavailableException", "operation": "converse_stream"})
    assert brt.converse(modelId=MODEL, messages=MESSAGES)["stopReason"] == "end_turn"
    assert error_of(lambda: brt.converse_stream(modelId=MODEL, messages=MESSAGES)) == (
        "ServiceUnavailableException", 503)
    queue(emulator_url, {"error": "ModelErrorException", "status": 500, "message": "boom"})
    with pytest.raises(ClientError) as caught:
        brt.converse(modelId=MODEL, messages=MESSAGES)
    assert caught.value.response["Error"]["Message"] == "boom"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_invoke_model_fault_by_arn_until_cleared(brt: Any, emulator_url: str) -> None:
    queue(emulator_url, {"count": -1, "model": ARN, "operation": "invoke_model"})
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": [
        {"role": "user", "content": "hi"}]})
    for _ in range(3):
        assert error_of(lambda: brt.invoke_model(modelId=ARN, body=body))[0] == "ThrottlingException"
    assert httpx.get(f"{emulator_url}/_emulator/faults").json()["faults"][0]["count"] == -1
    assert httpx.delete(f"{emulator_url}/_emulator/faults").json() == {"faults": []}
    assert json.loads(brt.invoke_model(modelId=ARN, body=body)["body"].read())["stop_reason"] == "end_turn"


def test_disconnect_and_stall(emulator_url: str) -> None:
    queue(emulator_url, [{"kind": "disconnect"}, {"kind": "stall", "delay_ms": 1500}])
    with pytest.raises(ConnectionClosedError):
        client(emulator_url).converse(modelId=MODEL, messages=MESSAGES)
    with pytest.raises(ReadTimeoutError):
        client(emulator_url, read_timeout=0.3).converse(modelId=MODEL, messages=MESSAGES)
    assert httpx.get(f"{emulator_url}/_emulator/calls").json()["faults_served"] == 2


def test_reset_clears_faults(brt: Any, emulator_url: str) -> None:
    queue(emulator_url, {"count": -1})
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()
    assert brt.converse(modelId=MODEL, messages=MESSAGES)["stopReason"] == "end_turn"
    # Like invoke_model, faults_served is listed only once faults were queued since the last reset.
    assert "faults_served" not in httpx.get(f"{emulator_url}/_emulator/calls").json()
    queue(emulator_url, {"model": "none-such"})
    assert httpx.get(f"{emulator_url}/_emulator/calls").json()["faults_served"] == 0


@pytest.mark.parametrize(
    "fault", [{"count": 0}, {"kind": "explode"}, {"status": 200}, {"operation": "chat"}, {"bogus": True}, "x"],
)
def test_bad_faults_are_validation_errors(emulator_url: str, fault: Any) -> None:
    response = httpx.post(f"{emulator_url}/_emulator/faults", json=fault)
    assert response.status_code == 400 and response.headers["x-amzn-errortype"].startswith("ValidationException")
    assert httpx.get(f"{emulator_url}/_emulator/faults").json() == {"faults": []}
