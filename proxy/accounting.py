"""Closing the books on one chat call: settle the limiter, price the usage, hand a record to the recorder."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from proxy import pricing
from proxy.catalog import PROVIDER, ModelEntry
from proxy.identity import Principal
from proxy.ratelimit import Admission
from proxy.services import Services
from proxy.tokens import CHARS_PER_TOKEN
from proxy.usage import UsageRecord
from translators import ConverseRequest

log = logging.getLogger("llm_gateway.chat")


@dataclass
class ChatCall:
    """Everything the hot path learned about one request, carried to its end."""

    request_id: str
    principal: Principal
    entry: ModelEntry
    conv: ConverseRequest
    admission: Admission
    model: str  # the name the client sent, echoed back
    started: float  # perf_counter at arrival
    prompt_estimate: int
    completion_id: str
    created: int
    upstream_started: float = field(default_factory=time.perf_counter)
    upstream_done: float | None = None
    first_token: float | None = None  # perf_counter when a stream relayed its first generated text
    finished: bool = False

    def latency_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def overhead_ms(self) -> float:
        """Time spent in the gateway itself, before and after the upstream call."""
        end = self.upstream_done or time.perf_counter()
        before = self.upstream_started - self.started
        return round((before + (time.perf_counter() - end)) * 1000, 3)


def gateway_metadata(call: ChatCall, cost: pricing.CostResult) -> dict[str, Any]:
    return {
        "team_id": call.principal.team_id,
        "latency_ms": call.latency_ms(),
        "cost_usd": float(cost.cost_usd),
        "provider": PROVIDER,
        "priced": cost.priced,
        "request_id": call.request_id,
    }


def gateway_headers(call: ChatCall, cost: pricing.CostResult) -> dict[str, str]:
    return {
        "x-gateway-team-id": call.principal.team_id,
        "x-gateway-provider": PROVIDER,
        "x-gateway-cost-usd": format(cost.cost_usd, "f"),
        "x-gateway-latency-ms": str(call.latency_ms()),
        "x-gateway-overhead-ms": str(call.overhead_ms()),
    }


def estimated_usage(call: ChatCall, generated_chars: int) -> dict[str, int]:
    """Used only when Bedrock never reported usage (cut stream): prompt estimate + what we relayed."""
    output = -(-generated_chars // CHARS_PER_TOKEN)
    return {"inputTokens": call.prompt_estimate, "outputTokens": output, "totalTokens": call.prompt_estimate + output}


async def finish(
    services: Services,
    call: ChatCall,
    *,
    bedrock_usage: dict[str, Any] | None,
    status: str,
    streaming: bool,
    cost: pricing.CostResult | None = None,
    estimated: bool = False,
) -> None:
    """Record and settle exactly once per call; never raises (the response is already decided).

    The usage record and the metrics are taken before the first await, and the settle is queued before
    its own: a stream's relay is cancelled when its client disconnects, which can happen while this
    runs (a client closes the connection as soon as it has read [DONE]), and neither may be lost to that.
    """
    if call.finished:
        return
    call.finished = True
    usage = bedrock_usage or {}
    if cost is None:
        cost = pricing.cost(call.entry, usage) if usage else pricing.CostResult(Decimal(0), True, {})
    prompt = int(usage.get("inputTokens", 0)) + int(usage.get("cacheReadInputTokens", 0)) + int(
        usage.get("cacheWriteInputTokens", 0)
    )
    completion = int(usage.get("outputTokens", 0))
    services.metrics.count_call(call.principal.team_id, call.entry.alias, status, prompt, completion, cost.cost_usd)
    services.metrics.observe_timing(
        call.entry.alias, streaming, time.perf_counter() - call.started, call.overhead_ms() / 1000,
        None if call.first_token is None else call.first_token - call.started,
    )
    services.usage.record(UsageRecord(
        request_id=call.request_id,
        ts=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        team_id=call.principal.team_id,
        key_id=call.principal.key_id,
        cost_center=call.principal.cost_center,
        model=call.entry.alias,
        bedrock_model_id=call.entry.bedrock_id,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=int(usage.get("cacheReadInputTokens", 0)),
        cache_write_tokens=int(usage.get("cacheWriteInputTokens", 0)),
        total_tokens=prompt + completion,
        cost_usd=cost.cost_usd,
        priced=cost.priced,
        estimated=estimated,
        latency_ms=call.latency_ms(),
        status=status,
        streaming=streaming,
        team_budget_usd=call.principal.team_budget_usd,
        key_budget_usd=call.principal.key_budget_usd,
    ))
    # Cancellation-safe without a task of its own: the in-process limiter settles without awaiting, and
    # the Redis one queues the settle for its batcher before its first await (then only waits for the
    # batch, shielded). Admission.settle never raises.
    await call.admission.settle(tokens=prompt + completion, cost_usd=cost.cost_usd)
