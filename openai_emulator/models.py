"""``GET /v1/models``: a fixed list (any model name is served; the list is what a client may discover)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openai_emulator.responses import CREATED

LISTED = (
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini",
    "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
)


def model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "openai"}


def models_list(deployed: Iterable[str] = ()) -> dict[str, Any]:
    """The listed models plus those behind configured Azure deployments, each once, in a stable order."""
    ids = list(dict.fromkeys([*LISTED, *deployed]))
    return {"object": "list", "data": [model_object(model_id) for model_id in ids]}
