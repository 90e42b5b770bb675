"""Golden option: `UPDATE_GOLDEN=1 pytest tests/unit/translators/embeddings` rewrites the expected files under
tests/golden_embeddings/ (`--update-golden` works too when the openai_bedrock directory, whose conftest
registers that option, is on the command line).
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden", default=False)) or os.environ.get("UPDATE_GOLDEN") == "1"
