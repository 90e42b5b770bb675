"""The raw error responses and the limits read from Settings."""

from __future__ import annotations

import json

import pytest

from proxy.errors import Overloaded, RequestHeaderFieldsTooLarge
from proxy.server.limits import DEFAULT_LIMITS, HttpLimits
from proxy.server.responses import error_response, status_line
from proxy.settings import ConfigError, Settings


def test_431_envelope_headers_and_body() -> None:
    raw = error_response(RequestHeaderFieldsTooLarge("too big"), [(b"date", b"Mon, 01 Jan 2024 00:00:00 GMT")])
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert set(lines[1:]) == {b"date: Mon, 01 Jan 2024 00:00:00 GMT", b"content-type: application/json",
                              b"content-length: " + str(len(body)).encode(), b"connection: close"}
    assert json.loads(body) == {"error": {"message": "too big", "type": "invalid_request_error", "param": None,
                                          "code": "request_header_fields_too_large"}}


def test_503_carries_retry_after() -> None:
    raw = error_response(Overloaded("busy"))
    assert raw.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nretry-after: 1\r\n" in raw
    assert b'"code":"server_overloaded"' in raw and b'"type":"api_error"' in raw


def test_status_line_of_an_unknown_status() -> None:
    assert status_line(599) == b"HTTP/1.1 599 \r\n"


def test_limits_come_from_the_settings() -> None:
    settings = Settings.from_env({"LLM_GATEWAY_HTTP_MAX_HEADER_BYTES": "1024",
                                  "LLM_GATEWAY_HTTP_BODY_TIMEOUT_S": "2.5"})
    limits = HttpLimits.from_settings(settings)
    assert limits.max_header_bytes == 1024 and limits.body_timeout_s == 2.5
    expected = HttpLimits(max_header_bytes=65536, header_timeout_s=10.0, body_timeout_s=30.0, idle_timeout_s=10.0,
                          keepalive_timeout_s=5.0, max_connections=2000, max_in_flight=1000)
    assert expected == DEFAULT_LIMITS


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_limits_must_be_positive_and_finite(value: str) -> None:
    with pytest.raises(ConfigError, match="LLM_GATEWAY_HTTP_HEADER_TIMEOUT_S"):
        Settings.from_env({"LLM_GATEWAY_HTTP_HEADER_TIMEOUT_S": value})
