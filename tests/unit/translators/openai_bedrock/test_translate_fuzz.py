"""Seeded fuzzing of the request translator: a bad body is a TranslationError (a 400), never a crash.

Every golden request is a starting point; each case applies 1 to 3 random edits (odd values in any
position, deleted keys, added parameters) and translates for every catalog model's capabilities.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from proxy.catalog.catalog import ModelCatalog
from tests.fuzzing import mutate
from translators.openai_bedrock import TranslationError, openai_request_to_converse
from translators.openai_bedrock.capabilities import ModelCapabilities

GOLDEN = Path(__file__).resolve().parents[3] / "golden"


def test_mutated_requests_translate_or_raise_translation_error() -> None:
    bases = [json.loads(p.read_text()) for p in sorted(GOLDEN.glob("*/openai_request.json"))]
    capabilities = [entry.capabilities for entry in ModelCatalog.load().entries.values()]
    capabilities.append(ModelCapabilities(native_json_schema=True, reasoning=True, prompt_caching=True))
    rng = random.Random(20261127)
    outcomes = {"translated": 0, "rejected": 0}
    for _ in range(4000):
        body = mutate(rng, rng.choice(bases))
        for drop in (False, True):
            try:
                openai_request_to_converse(body, capabilities=rng.choice(capabilities), drop_unsupported=drop)
                outcomes["translated"] += 1
            except TranslationError as exc:
                assert exc.message and isinstance(exc.message, str)
                outcomes["rejected"] += 1
    assert min(outcomes.values()) > 500, outcomes  # both outcomes exercised
