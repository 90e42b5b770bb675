"""Request paths and SigV4 signatures, held byte for byte to botocore and to boto3's own client."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import ReadOnlyCredentials

from proxy.errors import InvalidRequest
from proxy.providers.bedrock.client import endpoint_url, host_header, model_path
from proxy.providers.bedrock.sigv4 import SigV4Signer
from proxy.settings import Settings

_EMPTY_REPLY = b'{"output":{"message":{"role":"assistant","content":[]}}}'
HOST = "bedrock-runtime.us-east-1.amazonaws.com"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
MODEL_IDS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
    "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/x y+z~",
]
CREDS = [
    ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    ReadOnlyCredentials("ASIATEST", "secret", "session//token=="),
]


@pytest.mark.parametrize(("model_id", "path"), [
    ("us.anthropic.claude-3-5-haiku-v1:0", "/model/us.anthropic.claude-3-5-haiku-v1%3A0/converse"),
    ("arn:aws:bedrock:us-east-1:123:application-inference-profile/abc",
     "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Aapplication-inference-profile%2Fabc/converse"),
])
def test_model_path_encodes_everything(model_id: str, path: str) -> None:
    assert model_path(model_id, "converse") == path


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_model_path_rejects_dot_segments(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        model_path(bad, "converse")


def test_endpoint_and_host() -> None:
    default = Settings.from_env({}, aws_region="eu-west-1")
    assert endpoint_url(default.bedrock_endpoint_url, default.aws_region) == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    local = Settings.from_env({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:8089/"})
    assert endpoint_url(local.bedrock_endpoint_url, local.aws_region) == "http://127.0.0.1:8089"
    assert host_header("https://Bedrock-Runtime.us-east-1.amazonaws.com:443") == f"{HOST}"
    assert host_header("http://127.0.0.1:8089") == "127.0.0.1:8089"


@pytest.mark.parametrize("model_id", MODEL_IDS)
@pytest.mark.parametrize("creds", CREDS)
def test_signature_equals_botocore_sigv4auth(model_id: str, creds: ReadOnlyCredentials, monkeypatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: NOW.replace(tzinfo=None))
    path = model_path(model_id, "converse-stream")
    body = b'{"messages":[{"role":"user","content":[{"text":"hi  there"}]}]}'
    headers = {"Content-Type": "application/json", "Accept": "application/vnd.amazon.eventstream"}
    ours = SigV4Signer("us-east-1").sign(
        creds, method="POST", host=HOST, path=path, headers=headers, body=body, now=NOW,
    )
    request = AWSRequest("POST", f"https://{HOST}{path}", headers=headers, data=body)
    SigV4Auth(creds, "bedrock", "us-east-1").add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")


def test_signing_key_cache_follows_day_and_secret() -> None:
    signer = SigV4Signer("us-east-1")
    args = {"method": "POST", "host": "h", "path": "/model/m/converse", "headers": {}, "body": b"{}"}
    first = signer.sign(CREDS[0], now=NOW, **args)["Authorization"]
    next_day = signer.sign(CREDS[0], now=NOW.replace(day=5), **args)["Authorization"]
    other_secret = signer.sign(CREDS[1], now=NOW, **args)["Authorization"]
    assert first == SigV4Signer("us-east-1").sign(CREDS[0], now=NOW, **args)["Authorization"]
    assert len({first, next_day, other_secret}) == 3


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_signature_equals_real_boto3_client_request(model_id: str, monkeypatch) -> None:
    """Capture what boto3's bedrock-runtime client sends (never sent: before-send answers) and re-sign it."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: NOW.replace(tzinfo=None))
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secretsecret", aws_session_token="tok",
    )
    captured: list = []

    def capture(request, **_):
        captured.append(request)
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, _Raw(_EMPTY_REPLY))

    client.meta.events.register("before-send.bedrock-runtime.Converse", capture)
    client.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    sent = captured[0]
    path = sent.url.split("amazonaws.com", 1)[1]
    assert path == model_path(model_id, "converse")
    authorization = sent.headers["Authorization"].decode()
    # Sign the same header set botocore signed (amz-sdk-* and content-length are added after signing).
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    ours_add = {"host", "x-amz-date", "x-amz-security-token"}
    headers = {k: _text(v) for k, v in sent.headers.items() if k.lower() in set(signed) - ours_add}
    ours = SigV4Signer("us-east-1").sign(
        ReadOnlyCredentials("AKIDEXAMPLE", "secretsecret", "tok"), method="POST",
        host=host_header(sent.url), path=path, headers=headers, body=sent.body, now=NOW,
    )
    assert ours["Authorization"] == authorization


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_):
        yield self._data
