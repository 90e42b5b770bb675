"""The one call lifecycle (proxy/pipeline/): every exit after admission books the call exactly once,
prices it once, and describes it (headers, gateway_metadata) the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from proxy.auth.principal import Limits, Principal
from proxy.catalog.catalog import ModelCatalog, ModelEntry, Price
from proxy.errors import InvalidRequest, PermissionDenied, ShuttingDown, UpstreamUnavailable
from proxy.limits.local import LocalLimiter
from proxy.observability.metrics import Metrics, render
from proxy.pipeline.books import Books
from proxy.pipeline.chat import ChatPipeline, Reply, StreamReply
from proxy.pipeline.drain import Drain
from proxy.providers.base import CallInfo, Completion
from proxy.providers.bedrock.provider import BedrockProvider
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.usage import Usage

PRINCIPAL = Principal(team_id="t1", team_name="T1", key_id="k1", team_limits=Limits(rpm=1000, max_concurrency=1))
PRICED = ModelEntry(alias="priced", bedrock_id="anthropic.claude-x-v1:0", description="",
                    capabilities=ModelCapabilities(), price=Price(input=Decimal("0.003"), output=Decimal("0.015")))
UNPRICED = ModelEntry(alias="unpriced", bedrock_id="anthropic.claude-y-v1:0", description="",
                      capabilities=ModelCapabilities(), price=None)
USAGE = {"inputTokens": 1000, "outputTokens": 0, "totalTokens": 1000}
TEXT = {"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}}, "stopReason": "end_turn",
        "usage": USAGE}
EVENTS = [{"messageStart": {"role": "assistant"}},
          {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "ok"}}},
          {"messageStop": {"stopReason": "end_turn"}}, {"metadata": {"usage": USAGE}}]


class Recorder:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def record(self, rec: Any) -> None:
        self.records.append(rec)


class Events:
    def __init__(self, events: list[dict[str, Any]], *, hang: bool = False) -> None:
        self.events, self.hang, self.closed = events, hang, False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[dict[str, Any]]:
        for event in self.events:
            yield event
        if self.hang:
            await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


class FakeClient:
    """The Bedrock client seam: what BedrockProvider does I/O through."""

    def __init__(self, response: Any = TEXT, events: list[dict[str, Any]] | None = None,
                 error: BaseException | None = None, hang: bool = False) -> None:
        self.response, self.events, self.error, self.hang = response, events or EVENTS, error, hang
        self.streams: list[Events] = []

    async def converse(self, model_id: str, body: dict[str, Any], *, request_id: str) -> Any:
        if self.error is not None:
            raise self.error
        if self.hang:
            await asyncio.Event().wait()
        return self.response

    async def converse_stream(self, model_id: str, body: dict[str, Any], *, request_id: str) -> Events:
        if self.error is not None:
            raise self.error
        self.streams.append(Events(self.events, hang=self.hang))
        return self.streams[-1]


def pipeline(client: FakeClient) -> tuple[ChatPipeline, Recorder, Metrics, LocalLimiter]:
    recorder, metrics, limiter = Recorder(), Metrics(), LocalLimiter()
    chat = ChatPipeline(providers={"bedrock": BedrockProvider(client)},  # type: ignore[arg-type]
                        limiter=limiter, books=Books(metrics, recorder))
    return chat, recorder, metrics, limiter


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


async def run(chat: ChatPipeline, entry: ModelEntry = PRICED, **extra: Any) -> Reply | StreamReply:
    return await chat.run(request_id="req_1", principal=PRINCIPAL, entry=entry, body=body(**extra), started=0.0)


async def drain(reply: StreamReply) -> list[bytes]:
    return [frame async for frame in reply.frames]


async def slot_is_free(limiter: LocalLimiter) -> bool:
    admission = await limiter.admit(PRINCIPAL, tokens=1, cost_usd=Decimal(0))  # max_concurrency=1
    await admission.settle(tokens=0, cost_usd=Decimal(0))
    return True


async def test_a_plain_call_is_priced_described_and_booked_once() -> None:
    chat, recorder, _, limiter = pipeline(FakeClient())
    reply = await run(chat)
    assert isinstance(reply, Reply)
    assert reply.headers["x-gateway-cost-usd"] == "0.003000000"
    assert reply.headers["x-gateway-provider"] == "aws-bedrock" and "x-gateway-cost-priced" not in reply.headers
    assert b'"gateway_metadata"' in reply.body and b'"provider":"aws-bedrock"' in reply.body
    await reply.after()
    await reply.after()  # a second close is a no-op
    assert [(r.status, r.prompt_tokens, r.cost_usd) for r in recorder.records] == [("ok", 1000, Decimal("0.003"))]
    assert await slot_is_free(limiter)


async def test_unpriced_model_says_so_in_headers_plain_and_streamed() -> None:
    chat, _, _, _ = pipeline(FakeClient())
    plain = await run(chat, UNPRICED)
    assert isinstance(plain, Reply) and plain.headers["x-gateway-cost-priced"] == "false"
    await plain.after()
    streamed = await run(chat, UNPRICED, stream=True)
    assert isinstance(streamed, StreamReply) and streamed.headers["x-gateway-cost-priced"] == "false"
    await drain(streamed)


@pytest.mark.parametrize("include_usage", [False, True])
async def test_missing_price_is_logged_and_counted_once_per_call(
    include_usage: bool, caplog: pytest.LogCaptureFixture
) -> None:
    chat, recorder, metrics, _ = pipeline(FakeClient())
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    with caplog.at_level(logging.WARNING, logger="llm_gateway.pricing"):
        reply = await run(chat, UNPRICED, stream=True, **extra)
        assert isinstance(reply, StreamReply)
        frames = await drain(reply)
        plain = await run(chat, UNPRICED)
        assert isinstance(plain, Reply)
        await plain.after()
    finals = [f for f in frames if b"gateway_metadata" in f]
    assert len(finals) == (2 if include_usage else 1)  # the finish chunk, and the usage chunk when asked
    assert all(b'"priced":false' in f for f in finals)
    assert metrics.missing_price == {"unpriced": 2}  # one stream + one plain call, not one per chunk
    assert 'llm_gateway_missing_price_total{model="unpriced"} 2' in render(metrics)
    assert caplog.text.count("missing price") == 2 and "input" in caplog.text
    assert [r.priced for r in recorder.records] == [False, False]


async def test_an_upstream_error_before_the_first_event_is_booked_and_raised() -> None:
    chat, recorder, _, limiter = pipeline(FakeClient(error=UpstreamUnavailable("down")))
    for stream in (False, True):
        with pytest.raises(UpstreamUnavailable):
            await run(chat, stream=stream)
    assert [r.status for r in recorder.records] == ["upstream_error", "upstream_error"]
    assert await slot_is_free(limiter)


async def test_our_own_bug_after_admission_is_booked_and_raised() -> None:
    chat, recorder, _, limiter = pipeline(FakeClient(error=RecursionError("deep")))
    with pytest.raises(RecursionError):
        await run(chat)
    assert [r.status for r in recorder.records] == ["error"]
    assert await slot_is_free(limiter)


async def test_an_unreadable_answer_is_booked_with_the_billed_usage() -> None:
    chat, recorder, _, limiter = pipeline(FakeClient(response={"output": "garbage", "usage": USAGE}))
    with pytest.raises(Exception):  # noqa: B017 - whatever the translator raised: the app renders a 500
        await run(chat)
    assert [(r.status, r.prompt_tokens) for r in recorder.records] == [("error", 1000)]
    assert await slot_is_free(limiter)


@pytest.mark.parametrize("stream", [False, True])
async def test_cancellation_while_waiting_for_the_upstream_is_booked(stream: bool) -> None:
    chat, recorder, _, limiter = pipeline(FakeClient(hang=True, events=EVENTS[:1]))
    task = asyncio.ensure_future(run(chat, stream=stream))
    await asyncio.sleep(0.01)
    if stream:  # the stream is open (first event seen); the client goes away mid-stream
        reply = await task
        assert isinstance(reply, StreamReply)
        relay = asyncio.ensure_future(drain(reply))
        await asyncio.sleep(0.01)
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
    else:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [r.status for r in recorder.records] == ["client_disconnected"]
    assert await slot_is_free(limiter)


async def test_a_client_gone_before_the_first_frame_is_booked_as_estimated() -> None:
    client = FakeClient()
    chat, recorder, _, limiter = pipeline(client)
    reply = await run(chat, stream=True)
    assert isinstance(reply, StreamReply)
    await reply.on_abandon()
    assert [(r.status, r.estimated) for r in recorder.records] == [("client_disconnected", True)]
    assert client.streams[0].closed and await slot_is_free(limiter)


async def test_provider_name_comes_from_the_provider_that_served_the_call() -> None:
    class Other:
        name = "other-upstream"

        def prepare(self, body: dict[str, Any], entry: ModelEntry, *, drop_unsupported: bool) -> Any:
            return type("P", (), {"stream": False, "max_tokens": 10, "prompt_estimate": 3})()

        async def chat(self, entry: ModelEntry, prepared: Any, info: CallInfo) -> Completion:
            return Completion({"id": info.completion_id, "object": "chat.completion"}, Usage(input_tokens=3))

    recorder, metrics = Recorder(), Metrics()
    chat = ChatPipeline(providers={"other": Other()}, limiter=LocalLimiter(),  # type: ignore[dict-item]
                        books=Books(metrics, recorder))
    entry = ModelCatalog([PRICED]).resolve("priced")
    entry = type(entry)(**{**entry.__dict__, "provider": "other"})
    reply = await run(chat, entry)
    assert isinstance(reply, Reply)
    assert reply.headers["x-gateway-provider"] == "other-upstream" and b'"provider":"other-upstream"' in reply.body


BUDGETED = Principal(team_id="t2", team_name="T2", key_id="k2", team_budget_usd=Decimal("0.01"))


async def test_an_unpriced_model_is_refused_to_a_budget_before_admission() -> None:
    chat, recorder, _, _ = pipeline(FakeClient())
    with pytest.raises(PermissionDenied) as refused:
        await chat.run(request_id="r", principal=BUDGETED, entry=UNPRICED, body=body(), started=0.0)
    assert refused.value.code == "model_not_priced" and refused.value.param == "model"
    assert recorder.records == []  # refused before admission: nothing to book


async def test_a_fallback_price_charges_unpriced_models_and_flags_them() -> None:
    recorder, metrics = Recorder(), Metrics()
    chat = ChatPipeline(providers={"bedrock": BedrockProvider(FakeClient())},  # type: ignore[arg-type]
                        limiter=LocalLimiter(), books=Books(metrics, recorder),
                        unpriced_price=Price(input=Decimal("0.015"), output=Decimal("0.075")))
    reply = await chat.run(request_id="r", principal=BUDGETED, entry=UNPRICED, body=body(), started=0.0)
    assert isinstance(reply, Reply)
    assert reply.headers["x-gateway-cost-usd"] == "0.015000000" and reply.headers["x-gateway-cost-priced"] == "false"
    await reply.after()
    assert [(r.cost_usd, r.priced) for r in recorder.records] == [(Decimal("0.015"), False)]
    assert metrics.missing_price == {"unpriced": 1}


@pytest.mark.parametrize("stream", [False, True])
async def test_the_drain_deadline_ends_calls_in_the_envelope_and_books_them(stream: bool) -> None:
    """Hardening #8: SIGTERM while calls outlast the window: an envelope for the client, a record for us."""
    recorder, limiter = Recorder(), LocalLimiter()
    drain = Drain()
    chat = ChatPipeline(providers={"bedrock": BedrockProvider(FakeClient(hang=True, events=EVENTS[:2]))},  # type: ignore[arg-type]
                        limiter=limiter, books=Books(Metrics(), recorder), drain=drain)

    async def client() -> list[bytes] | Exception:
        try:
            reply = await run(chat, stream=stream)
        except ShuttingDown as exc:
            return exc
        assert isinstance(reply, StreamReply)
        return await drain_frames(reply)

    task = asyncio.ensure_future(client())
    await asyncio.sleep(0.02)
    drain.begin(0.05)
    outcome = await asyncio.wait_for(task, 2)
    if stream:
        assert isinstance(outcome, list) and outcome[-1] == b"data: [DONE]\n\n"
        assert b'"server_shutting_down"' in outcome[-2] and b'"delta"' in b"".join(outcome)  # content came first
    else:
        assert isinstance(outcome, ShuttingDown) and outcome.status == 503 and outcome.headers["retry-after"] == "1"
    assert [r.status for r in recorder.records] == ["shutdown"]
    assert await slot_is_free(limiter)


async def drain_frames(reply: StreamReply) -> list[bytes]:
    return [frame async for frame in reply.frames]


LIMITED = ModelEntry(alias="limited", bedrock_id="anthropic.claude-x-v1:0", description="",
                     capabilities=ModelCapabilities(), price=PRICED.price, context_window=1000, max_output_tokens=100)


async def test_requests_beyond_the_model_limits_are_400s_before_any_upstream_call() -> None:
    """OpenAI answers context_length_exceeded without calling a model; so do we (product-sheet fidelity)."""
    client = FakeClient(error=AssertionError("the upstream must not be called"))
    chat, recorder, _, _ = pipeline(client)
    with pytest.raises(InvalidRequest) as too_long:
        await chat.run(request_id="r", principal=PRINCIPAL, entry=LIMITED, started=0.0,
                       body={"model": "m", "messages": [{"role": "user", "content": "x" * 8_400}]})
    assert too_long.value.code == "context_length_exceeded" and too_long.value.param == "messages"
    assert "maximum context length is 1000 tokens" in too_long.value.message
    with pytest.raises(InvalidRequest) as too_many:
        await run(chat, LIMITED, max_tokens=101)
    assert too_many.value.param == "max_tokens" and "at most 100" in too_many.value.message
    assert recorder.records == []  # refused before admission
    ok, _, _, _ = pipeline(FakeClient())
    within = await ok.run(request_id="r", principal=PRINCIPAL, entry=LIMITED, started=0.0,
                          body={"model": "m", "max_tokens": 100,
                                "messages": [{"role": "user", "content": "x" * 7_000}]})
    assert isinstance(within, Reply)  # an estimate up to twice the window is the model's to judge
