"""The Bedrock error table: every code, in REST (PascalCase) and in-stream (lowerCamelCase) spelling."""

from __future__ import annotations

import logging

import pytest

from proxy.errors import RateLimited
from proxy.providers.bedrock.errors import UpstreamStreamError, map_bedrock_error, normalize_code

TABLE = [
    ("ValidationException", 400, "invalid_request_error", "invalid_request"),
    ("ResourceNotFoundException", 404, "invalid_request_error", "model_not_found"),
    ("AccessDeniedException", 500, "api_error", "internal_error"),
    ("ThrottlingException", 429, "requests", "rate_limit_exceeded"),
    ("ServiceQuotaExceededException", 429, "requests", "rate_limit_exceeded"),
    ("ModelNotReadyException", 503, "api_error", "service_unavailable"),
    ("ServiceUnavailableException", 503, "api_error", "service_unavailable"),
    ("ModelTimeoutException", 504, "api_error", "upstream_timeout"),
    ("ModelStreamErrorException", 502, "api_error", "upstream_error"),
    ("ModelErrorException", 502, "api_error", "upstream_error"),
    ("InternalServerException", 502, "api_error", "upstream_error"),
    ("SomethingNewException", 502, "api_error", "upstream_error"),
]


def _camel(code: str) -> str:
    return code[0].lower() + code[1:]


@pytest.mark.parametrize(("code", "status", "type_", "err_code"), TABLE)
@pytest.mark.parametrize("spelling", [str, _camel, str.lower, str.upper])
def test_table(code: str, status: int, type_: str, err_code: str, spelling) -> None:
    err = map_bedrock_error(spelling(code), "upstream says no", None)
    assert (err.status, err.type, err.code) == (status, type_, err_code)


def test_throttling_sets_retry_after() -> None:
    err = map_bedrock_error("throttlingException", "Too many requests", 429)
    assert isinstance(err, RateLimited)
    assert err.retry_after_s and 1 <= err.retry_after_s <= 2
    assert err.headers["retry-after"] == "1"


def test_validation_message_is_kept_and_on_demand_gets_guidance() -> None:
    assert map_bedrock_error("ValidationException", "messages.0 is blank").message == "messages.0 is blank"
    msg = ("Invocation of model ID anthropic.claude-3-7-sonnet with on-demand throughput isn't supported. "
           "Retry your request with the ID or ARN of an inference profile that contains this model.")
    assert "us.<model>" in map_bedrock_error("ValidationException", msg).message


def test_access_denied_hides_upstream_detail(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="llm_gateway.bedrock")
    secret_detail = "User arn:aws:iam::123:role/gw is not authorized to perform bedrock:InvokeModel"
    err = map_bedrock_error("AccessDeniedException", secret_detail, 403, request_id="req-42")
    assert secret_detail not in err.message
    assert "req-42" in caplog.text and secret_detail in caplog.text


@pytest.mark.parametrize(("status", "expected"), [(429, 429), (503, 503), (408, 504), (404, 404), (500, 502)])
def test_status_fallback_when_code_missing(status: int, expected: int) -> None:
    assert map_bedrock_error("", "", status).status == expected


@pytest.mark.parametrize(("raw", "code"), [
    ("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/", "ValidationException"),
    ("com.amazon.bedrock#ThrottlingException", "ThrottlingException"),
    ("ThrottlingException", "ThrottlingException"),
    (None, ""),
])
def test_normalize_code(raw: str | None, code: str) -> None:
    assert normalize_code(raw) == code


def test_stream_error_carries_mapped_status() -> None:
    err = UpstreamStreamError.from_error(map_bedrock_error("throttlingException", "slow down"))
    assert (err.status, err.type, err.code) == (429, "requests", "rate_limit_exceeded")
    assert err.headers["retry-after"] == "1" and err.retry_after_s == 1.0
    plain = UpstreamStreamError("upstream stream ended unexpectedly")
    assert (plain.status, plain.code, plain.cause) == (502, "upstream_error", None)
