"""BedrockClient (aiohttp + our signer + our decoder) against the emulator, checked against boto3."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import boto3
import orjson
import pytest
from botocore.config import Config

from bedrock_emulator.process import emulator_process
from proxy.errors import (
    InternalError,
    InvalidRequest,
    ModelNotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.providers.bedrock.client import BedrockClient
from proxy.providers.bedrock.errors import UpstreamStreamError
from proxy.providers.bedrock.eventstream import encode_message
from proxy.settings import Settings
from tests.conftest import free_port

MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "inputSchema": {
                    "json": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    }
                },
            }
        }
    ]
}


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with emulator_process(args=["--verify-sigv4", "testing:testing"]) as url:
        yield url


async def make_client(url: str, **overrides) -> BedrockClient:
    settings = Settings.from_env({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url}, **overrides)
    client = BedrockClient(region=settings.aws_region, endpoint=settings.bedrock_endpoint_url,
                           read_timeout_s=settings.upstream_read_timeout_s)
    await client.start()
    return client


@pytest.fixture
async def client(emulator_url: str) -> AsyncIterator[BedrockClient]:
    client = await make_client(emulator_url)
    yield client
    await client.close()


def body(text: str, **extra) -> dict:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **extra}


async def collect(client: BedrockClient, request: dict, model: str = MODEL) -> list[dict]:
    async with await client.converse_stream(model, request, request_id="t") as stream:
        return [event async for event in stream]


def boto3_client(url: str):
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


CASES = [
    body("Hello there"),
    body("weather in Paris?", toolConfig=TOOLS),
    body("EMULATOR:parallel_tools=2 EMULATOR:text_before_tool", toolConfig=TOOLS),
    body("think hard", additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 2000}}),
    body("EMULATOR:words=50", system=[{"text": "s" * 100}, {"cachePoint": {"type": "default"}}]),
]


@pytest.mark.parametrize("request_body", CASES)
@pytest.mark.parametrize("model", [MODEL, ARN])
async def test_same_results_as_boto3(
    client: BedrockClient, emulator_url: str, request_body: dict, model: str
):
    brt = boto3_client(emulator_url)
    expected = await asyncio.to_thread(brt.converse, modelId=model, **request_body)
    expected.pop("ResponseMetadata")
    assert await client.converse(model, request_body, request_id="t") == expected
    response = await asyncio.to_thread(brt.converse_stream, modelId=model, **request_body)
    expected_events = await asyncio.to_thread(list, response["stream"])
    assert await collect(client, request_body, model) == expected_events


@pytest.mark.parametrize(
    ("directive", "error", "status"),
    [
        ("EMULATOR:error=ValidationException", InvalidRequest, 400),
        ("EMULATOR:error=ThrottlingException", RateLimited, 429),
        ("EMULATOR:error=ResourceNotFoundException", ModelNotFound, 404),
        ("EMULATOR:error=AccessDeniedException", InternalError, 500),
        ("EMULATOR:error=ServiceUnavailableException", UpstreamUnavailable, 503),
        ("EMULATOR:error=ModelTimeoutException", UpstreamTimeout, 504),
        ("EMULATOR:error=InternalServerException", UpstreamError, 502),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_http_errors_map(
    client: BedrockClient, directive: str, error: type, status: int, streaming: bool
):
    call = client.converse_stream if streaming else client.converse
    with pytest.raises(error) as info:
        await call(MODEL, body(directive), request_id="t")
    assert info.value.status == status
    if status == 429:
        assert info.value.headers["retry-after"] == "1"


async def test_validation_message_passes_through(client: BedrockClient) -> None:
    with pytest.raises(InvalidRequest, match="alternate"):
        await client.converse(
            MODEL, {"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, request_id="t"
        )


async def test_first_event_exception_is_a_plain_error(client: BedrockClient) -> None:
    with pytest.raises(RateLimited) as info:
        await client.converse_stream(
            MODEL, body("EMULATOR:stream_error_after=0:throttlingException"), request_id="t"
        )
    assert not isinstance(info.value, UpstreamStreamError) and info.value.status == 429


@pytest.mark.parametrize(
    ("name", "status"),
    [("modelStreamErrorException", 502), ("throttlingException", 429), ("serviceUnavailableException", 503)],
)
async def test_mid_stream_exception(client: BedrockClient, name: str, status: int) -> None:
    stream = await client.converse_stream(
        MODEL, body(f"EMULATOR:stream_error_after=3:{name} a b c"), request_id="t"
    )
    seen = []
    with pytest.raises(UpstreamStreamError) as info:
        async for event in stream:
            seen.append(event)
    assert len(seen) == 3 and info.value.status == status


async def test_clean_truncation_raises(client: BedrockClient) -> None:
    stream = await client.converse_stream(MODEL, body("EMULATOR:truncate_after=4 a b c d"), request_id="t")
    with pytest.raises(UpstreamStreamError, match="ended unexpectedly"):
        async for _ in stream:
            pass


async def test_mid_frame_truncation_raises() -> None:
    frame = encode_message({":message-type": "event", ":event-type": "messageStart"}, b'{"role":"assistant"}')

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
            b"Connection: close\r\n\r\n" + frame + frame[:10]
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = await make_client(f"http://127.0.0.1:{port}")
    try:
        stream = await client.converse_stream(MODEL, body("x"), request_id="t")
        assert await stream.__anext__() == {"messageStart": {"role": "assistant"}}
        with pytest.raises(UpstreamStreamError, match="ended unexpectedly"):
            await stream.__anext__()
    finally:
        await client.close()
        server.close()


async def test_aclose_abandons_a_slow_stream(client: BedrockClient, emulator_url: str) -> None:
    before = (await asyncio.to_thread(_calls, emulator_url))["disconnects"]
    stream = await client.converse_stream(
        MODEL, body("EMULATOR:chunk_delay_ms=200 EMULATOR:words=500"), request_id="t"
    )
    await stream.__anext__()
    started = time.perf_counter()
    await stream.aclose()
    assert time.perf_counter() - started < 0.1
    deadline = time.monotonic() + 3
    while (await asyncio.to_thread(_calls, emulator_url))["disconnects"] == before:
        assert time.monotonic() < deadline, "the emulator never saw the disconnect"
        await asyncio.sleep(0.05)


async def test_read_timeout_maps_to_504(emulator_url: str) -> None:
    client = await make_client(emulator_url, upstream_read_timeout_s=0.2)
    try:
        with pytest.raises(UpstreamTimeout):
            await client.converse(MODEL, body("EMULATOR:delay_ms=1000"), request_id="t")
        stream = await client.converse_stream(MODEL, body("EMULATOR:chunk_delay_ms=1000 a b"), request_id="t")
        with pytest.raises(UpstreamStreamError) as info:
            async for _ in stream:
                pass
        assert info.value.status == 504
    finally:
        await client.close()


async def test_connection_refused_maps_to_503() -> None:
    client = await make_client(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(UpstreamUnavailable):
            await client.converse(MODEL, body("x"), request_id="t")
        with pytest.raises(UpstreamUnavailable):
            await client.converse_stream(MODEL, body("x"), request_id="t")
    finally:
        await client.close()


async def test_500_concurrent_streams(client: BedrockClient) -> None:
    async def one(i: int) -> str:
        events = await collect(client, body(f"EMULATOR:chunk_delay_ms=5\nEMULATOR:reply=stream {i} done"))
        assert "messageStop" in events[-2]
        return "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)

    texts = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(500))), timeout=30)
    assert texts == [f"stream {i} done" for i in range(500)]


def _calls(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url + "/_emulator/calls", timeout=5) as resp:
        return orjson.loads(resp.read())
