"""Golden option: `UPDATE_GOLDEN=1 pytest tests/unit/translators/anthropic_bedrock` rewrites the expected files
under tests/golden_anthropic/. `--update-golden` works too when the openai_bedrock directory (whose conftest
registers that option; registering it twice is an error) is on the command line.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden", default=False)) or os.environ.get("UPDATE_GOLDEN") == "1"
