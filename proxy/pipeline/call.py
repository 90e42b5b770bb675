"""One chat call, from admission to its books: what the pipeline learned, priced once, described once."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from proxy.auth.principal import Principal
from proxy.catalog.catalog import ModelEntry
from proxy.limits.plan import Admission
from proxy.providers.base import CallInfo, PreparedChat, Provider
from proxy.usage import pricing
from proxy.usage.pricing import CostResult
from translators.usage import Usage

UNPRICED_NOTHING = CostResult(Decimal(0), True)  # a call with no usage at all costs nothing, knowingly


@dataclass(eq=False)
class ChatCall:
    """Everything one request carries to its end; only the pipeline (proxy/pipeline/) changes it."""

    info: CallInfo
    principal: Principal
    entry: ModelEntry
    provider: Provider
    prepared: PreparedChat
    admission: Admission
    started: float  # perf_counter at arrival
    upstream_started: float = field(default_factory=time.perf_counter)
    upstream_done: float | None = None
    first_token: float | None = None  # perf_counter when a stream relayed its first generated text
    route: str = "chat"  # the client API, for the books: chat | messages | bedrock
    session_id: str | None = None  # the client's session id, when it sends one (Claude Code does)
    usage: Usage | None = None  # what the upstream reported (or, with estimated=True, our estimate)
    estimated: bool = False
    booked: bool = False
    # The response cache (proxy/pipeline/caching.py): "hit" or "miss" when the call uses it; what a hit
    # saved; the chunks a stream relayed, and what to run once a stream ended well (the fill).
    cache: str | None = None
    cache_saved_usd: Decimal | None = None
    stream_tap: list[dict[str, Any]] | None = None
    on_streamed: Callable[[], Awaitable[None]] | None = None
    _cost: CostResult | None = None

    @property
    def request_id(self) -> str:
        return self.info.request_id

    def cost(self) -> CostResult:
        """Priced once, when the usage is final; every later reader (metadata, headers, books) shares it."""
        if self._cost is None:
            if self.usage is None:
                return UNPRICED_NOTHING  # not cached: the usage may still arrive
            self._cost = pricing.cost(self.entry, self.usage)
        return self._cost

    def latency_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def overhead_ms(self) -> float:
        """Time spent in the gateway itself, before and after the upstream call."""
        end = self.upstream_done or time.perf_counter()
        before = self.upstream_started - self.started
        return round((before + (time.perf_counter() - end)) * 1000, 3)

    def metadata(self) -> dict[str, Any]:
        """The product sheet's gateway_metadata block, on a completion or a stream's final chunks."""
        cost = self.cost()
        return {
            "team_id": self.principal.team_id,
            "latency_ms": self.latency_ms(),
            "cost_usd": float(cost.cost_usd),
            "provider": self.provider.name,
            "deployment": self.entry.label,
            "priced": cost.priced,
            "request_id": self.request_id,
            **({"cache": "hit", "saved_cost_usd": float(self.cache_saved_usd)} if self.cache_saved_usd is not None
               else {}),
        }

    def headers(self) -> dict[str, str]:
        """Response headers: limits, team, provider, overhead; cost and latency once the usage is known.

        A stream sends its headers before the usage exists: it says x-gateway-cost-priced: false up front
        when the model has no price at all, and the exact cost comes in its final chunks' gateway_metadata.
        """
        headers = {
            **self.admission.headers,
            "x-gateway-team-id": self.principal.team_id,
            "x-gateway-provider": self.provider.name,
            "x-gateway-deployment": self.entry.label,
            "x-gateway-overhead-ms": str(self.overhead_ms()),
        }
        if self.cache is not None:
            headers["x-gateway-cache"] = self.cache
            if self.cache_saved_usd is not None:
                headers["x-gateway-cache-saved-usd"] = format(self.cache_saved_usd, "f")
        if self.usage is not None:
            cost = self.cost()
            headers["x-gateway-cost-usd"] = format(cost.cost_usd, "f")
            headers["x-gateway-latency-ms"] = str(self.latency_ms())
            if not cost.priced:
                headers["x-gateway-cost-priced"] = "false"
        elif self.entry.price is None:
            headers["x-gateway-cost-priced"] = "false"
        return headers
