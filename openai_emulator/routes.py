"""Which API a request path belongs to: OpenAI's ``/v1``, Azure's per-deployment form or Azure's ``/openai/v1``.

Azure OpenAI serves two URL shapes: ``/openai/deployments/{deployment}/...?api-version=...`` (the
deployment stands in for the model) and the newer ``/openai/v1/...`` (model in the body, no version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Operation = Literal["chat", "embeddings", "models"]
Api = Literal["openai", "azure", "azure_v1"]

_OPERATIONS: dict[str, Operation] = {"chat/completions": "chat", "embeddings": "embeddings"}
_MODEL_IN_BODY: tuple[tuple[str, Api], ...] = (("/v1/", "openai"), ("/openai/v1/", "azure_v1"))
# Azure's documented api-version format: a date, optionally "-preview".
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


@dataclass(frozen=True)
class Route:
    operation: Operation
    api: Api
    deployment: str | None = None   # Azure per-deployment form only
    model_id: str | None = None     # GET /v1/models/{id}

    @property
    def azure(self) -> bool:
        return self.api != "openai"


def match_route(method: str, path: str) -> Route | None:
    """The route for ``method path`` or None (an unknown path, or the wrong method for a known one)."""
    if method == "GET":
        return _models_route(path)
    if method != "POST":
        return None
    for prefix, api in _MODEL_IN_BODY:
        if path.startswith(prefix) and path[len(prefix):] in _OPERATIONS:
            return Route(_OPERATIONS[path[len(prefix):]], api)
    parts = path.split("/", 4)   # "", "openai", "deployments", name, rest
    if len(parts) == 5 and parts[1:3] == ["openai", "deployments"] and parts[3] and parts[4] in _OPERATIONS:
        return Route(_OPERATIONS[parts[4]], "azure", deployment=parts[3])
    return None


def _models_route(path: str) -> Route | None:
    if path in {"/v1/models", "/openai/v1/models"}:
        return Route("models", "openai" if path.startswith("/v1/") else "azure_v1")
    if path.startswith("/v1/models/") and len(path) > len("/v1/models/"):
        return Route("models", "openai", model_id=path[len("/v1/models/"):])
    return None
