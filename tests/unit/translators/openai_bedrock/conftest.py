"""Translator test options: `pytest tests/unit/translators --update-golden` rewrites expected golden files."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the expected files under tests/golden/ from the current translator output",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    # default=False: the option is only registered when this directory is on the command line.
    return bool(request.config.getoption("--update-golden", default=False))
