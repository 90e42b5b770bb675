"""POST /v1/embeddings: OpenAI in, Bedrock (Titan, Cohere) or an OpenAI-format upstream, OpenAI out.

The same life as a chat call (proxy/pipeline/chat.py): admitted against the team's limits and budget,
routed across the model's deployments, priced once at the input price, booked once (route embeddings).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import orjson

from proxy.auth.principal import Principal
from proxy.catalog.catalog import ModelEntry
from proxy.ids import random_hex
from proxy.pipeline.call import ChatCall
from proxy.pipeline.chat import CallPipeline, Reply
from proxy.providers.base import CallInfo, PreparedChat, Provider


class EmbeddingsPipeline(CallPipeline):
    async def run(self, *, request_id: str, principal: Principal, entry: ModelEntry, body: dict[str, Any],
                  started: float) -> Reply:
        def prepare(provider: Provider, deployment: ModelEntry) -> PreparedChat:
            return provider.prepare_embeddings(body, deployment)

        candidates, prepared = self.first_prepared(entry, principal, prepare)
        first = candidates[0]
        info = CallInfo(request_id=request_id, model=body["model"], completion_id="embd-" + random_hex(),
                        created=int(time.time()))
        call = await self.admit(info=info, principal=principal, entry=first, provider=self.providers[first.provider],
                                prepared=prepared, started=started, route="embeddings", alternatives=candidates[1:])
        return await self.guarded(call, functools.partial(self.routed, candidates=candidates, prepare=prepare,
                                                          step=self._complete))

    async def _complete(self, call: ChatCall) -> Reply:
        completion = await call.provider.embeddings(call.entry, call.prepared, call.info)
        call.upstream_done = time.perf_counter()
        call.usage, call.estimated = completion.usage, completion.estimated
        body = completion.body
        body["gateway_metadata"] = call.metadata()
        return Reply(orjson.dumps(body), call.headers(),
                     functools.partial(self.books.close, call, status="ok", streaming=False))
