"""What ``/_emulator/last_request`` and ``/_emulator/requests`` show about a request the emulator received.

Credentials never appear: ``authorization`` shows only its scheme and ``api-key`` only whether it was sent,
which is what a gateway test needs (did it use the right auth style for this upstream?).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openai_emulator.routes import Route

# Hop-by-hop or transport headers that say nothing about what the gateway chose to send.
_SKIPPED = frozenset({"host", "content-length", "connection", "accept-encoding", "keep-alive", "transfer-encoding"})
_SCHEME_ONLY = frozenset({"authorization", "proxy-authorization"})
_PRESENCE_ONLY = frozenset({"api-key", "x-api-key", "cookie"})


def redacted_headers(headers: dict[str, str]) -> dict[str, Any]:
    shown: dict[str, Any] = {"authorization": None, "api-key": False}
    for name, value in headers.items():
        if name in _SCHEME_ONLY:
            shown[name] = value.split(" ", 1)[0] or None
        elif name in _PRESENCE_ONLY:
            shown[name] = True
        elif name not in _SKIPPED:
            shown[name] = value
    return shown


def describe_request(
    route: Route, scope: Mapping[str, Any], headers: dict[str, str], body: Any, *, operation: str, model: str | None,
    unknown: list[str], images: int = 0,
) -> dict[str, Any]:
    return {
        "path": scope["path"],
        "query": scope.get("query_string", b"").decode("latin-1"),
        "api": route.api,
        "operation": operation,
        "model": model,
        "deployment": route.deployment,
        "body": body,
        "unknown_fields": unknown,
        "images": images,
        "headers": redacted_headers(headers),
    }
