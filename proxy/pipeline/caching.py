"""The response cache in a chat call's life: decide, look up, answer a hit, fill after a good answer.

A hit is still a call: admitted (it counts against the team's request rate; its reservation is settled
at $0), booked once with status ``cache_hit``, cost 0 and the saving in ``gateway_metadata``. Only
answers the upstream completed and fully reported (status ok, usage not estimated) are stored, after
the response is sent (off the hot path). Keys are per team and per the model's first deployment
(proxy/cache/key.py); the stores never fail a call (proxy/cache/store.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from proxy.cache.entry import CachedAnswer, assemble_completion, replay_chunks, replay_completion
from proxy.cache.key import CacheDecision, cache_decision, cache_key
from proxy.cache.store import ResponseCache
from proxy.catalog.catalog import ModelEntry
from proxy.pipeline.call import ChatCall
from proxy.providers.base import CallInfo
from translators.usage import Usage

log = logging.getLogger("llm_gateway.cache")
ROUTE = "chat"


@dataclass
class CachePolicy:
    store: ResponseCache
    ttl_s: float
    teams: frozenset[str] = frozenset()  # teams whose calls use the cache without the header
    sampled_teams: frozenset[str] = frozenset()  # teams that accept replayed samples (temperature > 0)
    saved_usd: Decimal = field(default=Decimal(0))  # the cost hits saved, for /metrics
    hits: int = 0

    def decide(self, body: dict[str, Any], team_id: str, headers: Mapping[str, str]) -> CacheDecision:
        allow = headers.get("x-gateway-cache-allow-sampled", "").strip().lower() == "true" or \
            team_id in self.sampled_teams
        return cache_decision(body, header=headers.get("x-gateway-cache"), team_opt_in=team_id in self.teams,
                              allow_sampled=allow)

    def key(self, team_id: str, entry: ModelEntry, body: dict[str, Any]) -> str:
        # The model's first deployment, not the one a fallback reached: the entry is the model's answer.
        return cache_key(team_id=team_id, deployment=entry.label, route=ROUTE, body=body)

    async def lookup(self, key: str) -> CachedAnswer | None:
        return await self.store.get(key)

    def replay(self, answer: CachedAnswer, info: CallInfo, *, stream: bool,
               include_usage: bool) -> dict[str, Any] | list[dict[str, Any]]:
        self.hits += 1
        self.saved_usd += answer.cost_usd
        if stream:
            return replay_chunks(answer, completion_id=info.completion_id, created=info.created, model=info.model,
                                 include_usage=include_usage)
        return replay_completion(answer, completion_id=info.completion_id, created=info.created, model=info.model)

    async def fill(self, key: str, call: ChatCall, *, completion: dict[str, Any] | None = None,
                   chunks: list[dict[str, Any]] | None = None) -> None:
        """Store a good answer; never raises (a cache failure must not touch the call)."""
        if call.usage is None or call.estimated:
            return
        try:
            if completion is None:
                assert chunks is not None
                completion = assemble_completion(chunks)
            body = {k: v for k, v in completion.items() if k != "gateway_metadata"}
            answer = CachedAnswer(completion=body, chunks=chunks, usage=call.usage, cost_usd=call.cost().cost_usd,
                                  deployment=call.entry.label, provider=call.provider.name, created_at=time.time())
            await self.store.set(key, answer, self.ttl_s)
        except Exception:
            log.exception("cache fill failed request_id=%s", call.request_id)


class ReplayStream:
    """A cached answer as a ChatStream: the relay (proxy/pipeline/relay.py) frames it like any other."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self._chunks: list[dict[str, Any]] | None = chunks
        self.usage: Usage | None = Usage()  # the hit itself costs nothing

    def __aiter__(self) -> ReplayStream:
        return self

    async def __anext__(self) -> list[dict[str, Any]]:
        if self._chunks is None:
            raise StopAsyncIteration
        chunks, self._chunks = self._chunks, None
        return chunks

    def finish(self) -> list[dict[str, Any]]:
        return []

    async def aclose(self) -> None:
        self._chunks = None
