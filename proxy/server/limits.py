"""HttpLimits: the per-process HTTP server limits, read from Settings (LLM_GATEWAY_HTTP_*)."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.settings import Settings


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float
    idle_timeout_s: float
    keepalive_timeout_s: float
    max_connections: int
    max_in_flight: int
    body_deadline_s: float = 120.0  # the whole body, however steadily it trickles in

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            header_timeout_s=settings.http_header_timeout_s,
            body_timeout_s=settings.http_body_timeout_s,
            idle_timeout_s=settings.http_idle_timeout_s,
            keepalive_timeout_s=settings.http_keepalive_timeout_s,
            max_connections=settings.http_max_connections,
            max_in_flight=settings.http_max_in_flight,
            body_deadline_s=settings.http_body_deadline_s,
        )


DEFAULT_LIMITS = HttpLimits.from_settings(Settings())
