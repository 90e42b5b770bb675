"""Hardening #7: log injection and amplification. One line per record, control characters escaped."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from proxy.api.errors_middleware import UnexpectedErrorMiddleware
from proxy.api.middleware import RequestIdMiddleware
from proxy.observability.logs import MAX_LINE, SafeFormatter, escape


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad\nvalue")
        except ValueError as err:
            exc_info = (type(err), err, err.__traceback__)
    return logging.LogRecord("llm_gateway", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_forged_lines_and_terminal_escapes_are_inert() -> None:
    hostile = "m\nINFO llm_gateway admin login ok\r\x1b[2J\tx\u2028"
    line = SafeFormatter("%(levelname)s %(message)s").format(record("missing price: model=%s", hostile))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert "\\nINFO llm_gateway admin login ok\\r\\x1b[2J\\tx" in line
    assert escape("plain text: ok") == "plain text: ok"


def test_the_server_format_with_its_timestamp_formats() -> None:
    line = SafeFormatter("%(asctime)s %(levelname)s %(name)s %(message)s").format(record("ok %d", 1))
    assert line.endswith("ERROR llm_gateway ok 1") and line[:4].isdigit()


def test_a_traceback_is_one_bounded_line() -> None:
    line = SafeFormatter("%(message)s").format(record("failed %s", "x" * 20_000, exc=True))
    assert "\n" not in line and len(line) <= MAX_LINE and "chars cut" in line
    short = SafeFormatter("%(message)s").format(record("failed", exc=True))
    assert "ValueError: bad\\nvalue @ test_logs.py" in short


def test_an_unexpected_error_is_logged_once_and_answered_in_the_envelope(caplog) -> None:  # type: ignore[no-untyped-def]
    async def boom(request: Request) -> None:
        raise RuntimeError("bug")

    app = Starlette(routes=[Route("/boom", boom)])
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(RequestIdMiddleware)
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/boom")  # raise_server_exceptions=True: nothing escapes the middleware
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    assert response.headers["x-request-id"] in response.json()["error"]["message"]
    assert len(response.headers.get_list("x-request-id")) == 1
    assert sum("unhandled error" in r.getMessage() for r in caplog.records) == 1
    assert sum(r.exc_info is not None for r in caplog.records) == 1
