"""The one owner of a chat call's life: prepare -> admit -> provider -> price once -> books once.

Handlers (proxy/api/chat.py) do HTTP only: they authenticate, read the body, resolve the model and
hand the rest here. Every exit after admission (a reply, an upstream error, our own bug, a client
that goes away, a cancellation) reaches ``Books.close`` exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson

from proxy.auth.principal import Principal
from proxy.cache.entry import CachedAnswer
from proxy.catalog.catalog import ModelEntry, Price
from proxy.errors import GatewayError, InvalidRequest, PermissionDenied, ShuttingDown
from proxy.ids import random_hex
from proxy.limits.redis import Limiter
from proxy.pipeline.books import Books
from proxy.pipeline.caching import CachePolicy, ReplayStream
from proxy.pipeline.call import ChatCall
from proxy.pipeline.drain import DRAIN, Drain
from proxy.pipeline.estimates import COMPLETION_ALLOWANCE, WORST_CASE_COMPLETION
from proxy.pipeline.relay import abandon, relay
from proxy.pipeline.routing import Router
from proxy.providers.base import CallInfo, PreparedChat, Provider, UnreadableResponse
from proxy.usage import pricing
from translators.usage import Usage

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole chat.completion; ``after`` closes the books once the body is sent (off the hot path)."""

    body: bytes
    headers: dict[str, str]
    after: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StreamReply:
    frames: AsyncIterator[bytes]
    headers: dict[str, str]
    on_abandon: Callable[[], Awaitable[None]]  # the client left before the first frame was asked for


# The prompt estimate is ~4 characters a token: text that tokenizes unusually well (long repeats) can
# come out at half the estimate, so only an estimate beyond twice the window is refused up front.
CONTEXT_MARGIN = 2


def check_model_limits(entry: ModelEntry, prompt_estimate: int, max_tokens: int | None) -> None:
    """OpenAI's 400s for what the model cannot take, before any upstream call is paid for."""
    if entry.max_output_tokens is not None and max_tokens is not None and max_tokens > entry.max_output_tokens:
        raise InvalidRequest(
            f"max_tokens is too large: {max_tokens}. This model supports at most {entry.max_output_tokens} "
            f"completion tokens, whereas you provided {max_tokens}.", param="max_tokens", code="invalid_value",
        )
    if entry.context_window is not None and prompt_estimate > entry.context_window * CONTEXT_MARGIN:
        raise InvalidRequest(
            f"This model's maximum context length is {entry.context_window} tokens. However, your messages "
            f"resulted in about {prompt_estimate} tokens. Please reduce the length of the messages.",
            param="messages", code="context_length_exceeded",
        )


class CallPipeline:
    """What every client API shares: admission, the exits that book a call, the unpriced-model rule."""

    def __init__(self, *, providers: Mapping[str, Provider], limiter: Limiter, books: Books,
                 drop_unsupported: bool = False, keepalive_s: float = 0.0,
                 unpriced_price: Price | None = None, drain: Drain = DRAIN, router: Router | None = None) -> None:
        self.providers = providers
        self.router = router or Router()
        self.limiter = limiter
        self.books = books
        self.drop_unsupported = drop_unsupported
        self.keepalive_s = keepalive_s
        self.unpriced_price = unpriced_price
        self.drain = drain

    def priced(self, entry: ModelEntry, principal: Principal) -> ModelEntry:
        return self._unpriced(entry, principal) if entry.price is None else entry

    def first_prepared(self, entry: ModelEntry, principal: Principal,
                       prepare: Callable[[Provider, ModelEntry], PreparedChat],
                       ) -> tuple[list[ModelEntry], PreparedChat]:
        """The deployments to try, in order (proxy/pipeline/routing.py), the first one's request prepared.

        A deployment that cannot express the request (its provider's 400) or cannot be priced for this
        principal is left out when another can; with none left, the first one's error is the answer.
        """
        candidates: list[ModelEntry] = []
        prepared: PreparedChat | None = None
        first_error: GatewayError | None = None
        for candidate in self.router.order(entry):
            try:
                candidate = self.priced(candidate, principal)
                if prepared is None:
                    prepared = prepare(self.providers[candidate.provider], candidate)
            except (InvalidRequest, PermissionDenied) as exc:
                first_error = first_error or exc
                continue
            candidates.append(candidate)
        if prepared is None:
            assert first_error is not None
            raise first_error
        return candidates, prepared

    async def routed(self, call: ChatCall, candidates: Sequence[ModelEntry],
                     prepare: Callable[[Provider, ModelEntry], PreparedChat],
                     step: Callable[[ChatCall], Awaitable[R]]) -> R:
        """``step`` on the first deployment, falling back to the others (each prepared only if reached)."""
        def use(candidate: ModelEntry, index: int) -> bool:
            if index == 0:
                return True
            provider = self.providers[candidate.provider]
            try:
                prepared = prepare(provider, candidate)
            except InvalidRequest:
                return False
            call.entry, call.provider, call.prepared = candidate, provider, prepared
            return True

        return await self.router.run(candidates, call.started, use, lambda _candidate: step(call))

    async def admit(self, *, info: CallInfo, principal: Principal, entry: ModelEntry, provider: Provider,
                    prepared: PreparedChat, started: float, route: str = "chat",
                    session_id: str | None = None, alternatives: Sequence[ModelEntry] = ()) -> ChatCall:
        estimate = prepared.prompt_estimate
        check_model_limits(entry, estimate, prepared.max_tokens)
        completion = prepared.max_tokens or WORST_CASE_COMPLETION
        # A fallback may land on a dearer deployment: reserve the budget for the dearest one.
        worst_cost = max(pricing.worst_case_cost(e, estimate, completion) for e in (entry, *alternatives))
        admission = await self.limiter.admit(
            principal, tokens=estimate + (prepared.max_tokens or COMPLETION_ALLOWANCE), cost_usd=worst_cost,
        )
        return ChatCall(info=info, principal=principal, entry=entry, provider=provider, prepared=prepared,
                        admission=admission, started=started, route=route, session_id=session_id)

    async def guarded(self, call: ChatCall, step: Callable[[ChatCall], Awaitable[R]]) -> R:
        """Run ``step`` (the upstream call) so that every way out of it books the call once."""
        streaming = call.prepared.stream
        task = self.drain.track()
        try:
            return await step(call)
        except asyncio.CancelledError as exc:
            if not self.drain.is_shutdown(exc):
                await asyncio.shield(self.books.close(call, status="client_disconnected", streaming=streaming))
                raise
            if task is not None:
                task.uncancel()  # this cancellation is ours: answer it in the envelope instead
            await self.books.close(call, status="shutdown", streaming=streaming)
            raise ShuttingDown() from None
        except GatewayError:
            await self.books.close(call, status="upstream_error", streaming=streaming)
            raise
        except UnreadableResponse as exc:  # the upstream billed this call: book it though we cannot answer
            call.usage = exc.usage
            await self.books.close(call, status="error", streaming=streaming)
            raise exc.__cause__ or exc from None
        except BaseException:
            await self.books.close(call, status="error", streaming=streaming)
            raise
        finally:
            self.drain.done(task)  # a stream's relay tracks itself again for its own life (relay.py)

    def _unpriced(self, entry: ModelEntry, principal: Principal) -> ModelEntry:
        """A model without a price would cost $0 against a budget: price it at the operator's stand-in
        price, or refuse it to anyone with a budget (hardening #2: 20 x 2M tokens, budget never moved)."""
        if self.unpriced_price is not None:
            return replace(entry, price=self.unpriced_price, fallback_priced=True)
        if principal.team_budget_usd is not None or principal.key_budget_usd is not None:
            raise PermissionDenied(
                f"The model `{entry.alias}` has no price in this gateway's catalog, and your "
                f"{'key' if principal.key_budget_usd is not None else 'team'} has a budget that it could not "
                "count against. Ask the operator to price it in the catalog (or to set "
                "LLM_GATEWAY_UNPRICED_MODEL_PRICE).", param="model", code="model_not_priced",
            )
        return entry


class ChatPipeline(CallPipeline):
    """POST /v1/chat/completions: OpenAI in, any provider, OpenAI out (or the response cache's answer)."""

    def __init__(self, *, cache: CachePolicy | None = None, **shared: Any) -> None:
        super().__init__(**shared)
        self.cache = cache

    async def run(self, *, request_id: str, principal: Principal, entry: ModelEntry, body: dict[str, Any],
                  started: float, headers: Mapping[str, str] | None = None) -> Reply | StreamReply:
        def prepare(provider: Provider, deployment: ModelEntry) -> PreparedChat:
            return provider.prepare(body, deployment, drop_unsupported=self.drop_unsupported)

        candidates, prepared = self.first_prepared(entry, principal, prepare)
        first = candidates[0]
        cache = self.cache
        decision = cache.decide(body, principal.team_id, headers) if cache is not None and headers is not None \
            else None  # a bad x-gateway-cache header is a 400 before admission
        info = CallInfo(request_id=request_id, model=body["model"], completion_id="chatcmpl-" + random_hex(),
                        created=int(time.time()))
        call = await self.admit(info=info, principal=principal, entry=first, provider=self.providers[first.provider],
                                prepared=prepared, started=started, alternatives=candidates[1:])
        key = None
        if cache is not None and decision is not None and decision.write:
            key, call.cache = cache.key(principal.team_id, entry, body), "miss"
            answer = await cache.lookup(key) if decision.read else None
            if answer is not None:
                return await self.guarded(call, functools.partial(self._hit, answer=answer, body=body))
        step = self._stream if prepared.stream else self._complete
        if key is not None:
            step = functools.partial(step, cache_key=key)
        return await self.guarded(call, functools.partial(self.routed, candidates=candidates, prepare=prepare,
                                                          step=step))

    async def _complete(self, call: ChatCall, cache_key: str | None = None) -> Reply | StreamReply:
        completion = await call.provider.chat(call.entry, call.prepared, call.info)
        call.upstream_done = time.perf_counter()
        call.usage, call.estimated = completion.usage, completion.estimated
        body = completion.body
        body["gateway_metadata"] = call.metadata()
        # A partial of the coroutine function, not a lambda: Starlette's BackgroundTask awaits only
        # what it recognises as async, and runs anything else in a thread.
        after = functools.partial(self.books.close, call, status="ok", streaming=False)
        if cache_key is not None:
            after = functools.partial(self._close_and_fill, call, cache_key, body)
        return Reply(orjson.dumps(body), call.headers(), after)

    async def _close_and_fill(self, call: ChatCall, key: str, body: dict[str, Any]) -> None:
        await self.books.close(call, status="ok", streaming=False)
        assert self.cache is not None
        await self.cache.fill(key, call, completion=body)

    async def _stream(self, call: ChatCall, cache_key: str | None = None) -> Reply | StreamReply:
        stream = await call.provider.chat_stream(call.entry, call.prepared, call.info)
        if cache_key is not None and self.cache is not None:
            tap: list[dict[str, Any]] = []
            call.stream_tap = tap
            call.on_streamed = functools.partial(self.cache.fill, cache_key, call, chunks=tap)
        return StreamReply(relay(self.books, call, stream, self.keepalive_s, self.drain), call.headers(),
                           functools.partial(abandon, self.books, call, stream))

    async def _hit(self, call: ChatCall, *, answer: CachedAnswer, body: dict[str, Any]) -> Reply | StreamReply:
        assert self.cache is not None
        call.cache, call.cache_saved_usd = "hit", answer.cost_usd
        call.usage = Usage()  # no upstream call: nothing consumed, nothing billed
        call.upstream_done = time.perf_counter()
        if call.prepared.stream:
            options = body.get("stream_options")
            include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
            chunks = self.cache.replay(answer, call.info, stream=True, include_usage=include_usage)
            assert isinstance(chunks, list)
            stream = ReplayStream(chunks)
            return StreamReply(relay(self.books, call, stream, self.keepalive_s, self.drain), call.headers(),
                               functools.partial(abandon, self.books, call, stream))
        completion = self.cache.replay(answer, call.info, stream=False, include_usage=False)
        assert isinstance(completion, dict)
        completion["gateway_metadata"] = call.metadata()
        return Reply(orjson.dumps(completion), call.headers(),
                     functools.partial(self.books.close, call, status="ok", streaming=False))
