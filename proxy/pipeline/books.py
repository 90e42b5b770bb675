"""Closing the books on one call, exactly once: metrics, the usage record, the limiter settle.

The pipeline (proxy/pipeline/chat.py, proxy/pipeline/relay.py) calls ``close`` on every exit path
after admission; a second call is a no-op, so an exit path can never count a call twice.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from proxy.observability.metrics import Metrics
from proxy.pipeline.call import ChatCall
from proxy.usage.recorder import UsageRecord, UsageSink

log = logging.getLogger("llm_gateway.pricing")


class Books:
    def __init__(self, metrics: Metrics, recorder: UsageSink) -> None:
        self.metrics = metrics
        self.recorder = recorder

    async def close(self, call: ChatCall, *, status: str, streaming: bool) -> None:
        """Record and settle once per call; never raises (the response is already decided).

        The usage record and the metrics are taken before the first await, and the settle is queued
        before its own: a stream's relay is cancelled when its client disconnects, which can happen
        while this runs (a client closes the connection as soon as it has read [DONE]), and neither
        may be lost to that.
        """
        if call.booked:
            return
        call.booked = True
        try:
            self._write(call, status, streaming)
        except Exception:  # a bookkeeping bug must not keep the limiter slot: settle below regardless
            log.exception("usage record failed request_id=%s", call.request_id)
        usage, cost = call.usage, call.cost()
        tokens = usage.total_tokens if usage is not None else 0
        # Cancellation-safe without a task of its own: the in-process limiter settles without awaiting,
        # and the Redis one queues the settle for its batcher before its first await (then only waits
        # for the batch, shielded). Admission.settle never raises.
        await call.admission.settle(tokens=tokens, cost_usd=cost.cost_usd)

    def _write(self, call: ChatCall, status: str, streaming: bool) -> None:
        usage, cost, entry = call.usage, call.cost(), call.entry
        if status == "ok" and call.cache_saved_usd is not None:
            status = "cache_hit"  # answered from the cache: no upstream call, cost 0
        prompt = usage.prompt_tokens if usage is not None else 0
        completion = usage.output_tokens if usage is not None else 0
        if cost.missing:
            self.metrics.count_missing_price(entry.alias)
            log.warning("missing price: model=%s upstream_model=%s buckets=%s (%s)", entry.alias, entry.bedrock_id,
                        ",".join(cost.missing),
                        "charged at LLM_GATEWAY_UNPRICED_MODEL_PRICE" if entry.fallback_priced else "cost understated")
        self.metrics.count_call(call.principal.team_id, entry.alias, status, prompt, completion, cost.cost_usd)
        self.metrics.observe_timing(
            entry.alias, streaming, time.perf_counter() - call.started, call.overhead_ms() / 1000,
            None if call.first_token is None else call.first_token - call.started,
        )
        principal = call.principal
        self.recorder.record(UsageRecord(
            request_id=call.request_id,
            ts=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            team_id=principal.team_id,
            key_id=principal.key_id,
            cost_center=principal.cost_center,
            model=entry.alias,
            bedrock_model_id=entry.record_model_id,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=usage.cache_read_tokens if usage is not None else 0,
            cache_write_tokens=usage.cache_write_tokens if usage is not None else 0,
            total_tokens=prompt + completion,
            cost_usd=cost.cost_usd,
            priced=cost.priced,
            estimated=call.estimated,
            latency_ms=call.latency_ms(),
            status=status,
            streaming=streaming,
            team_budget_usd=principal.team_budget_usd,
            key_budget_usd=principal.key_budget_usd,
            route=call.route,
            session_id=call.session_id,
        ))
