"""The Bedrock emulator driven by an unmodified boto3 bedrock-runtime client over real HTTP."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from bedrock_emulator.process import emulator_process

MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
WEATHER_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            }
        },
    }
}
OTHER_TOOL = {"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object", "properties": {}}}}}


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    # The conftest gives every test the dummy key pair testing/testing: verify real signatures with it.
    with emulator_process(args=["--verify-sigv4", "testing:testing"]) as url:
        yield url


@pytest.fixture
def brt(emulator_url: str):
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=emulator_url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": [{"text": text}]}]


def converse(brt, text: str, **kwargs) -> dict:
    resp = brt.converse(modelId=MODEL, messages=user(text), **kwargs)
    resp.pop("ResponseMetadata")
    return resp


def stream(brt, text: str, model: str = MODEL, **kwargs) -> list[dict]:
    return list(brt.converse_stream(modelId=model, messages=user(text), **kwargs)["stream"])


def streamed_text(events: list[dict]) -> str:
    return "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
    )


def test_converse_echo_shape_and_usage(brt) -> None:
    resp = converse(brt, "Hello there, emulator")
    assert resp["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": "Echo: Hello there, emulator"}],
    }
    assert resp["stopReason"] == "end_turn"
    assert resp["usage"] == {"inputTokens": 6, "outputTokens": 7, "totalTokens": 13}
    assert resp["metrics"]["latencyMs"] >= 0


def test_stream_matches_converse_and_is_incremental(brt) -> None:
    events = stream(brt, "one two three four")
    assert events[0] == {"messageStart": {"role": "assistant"}}
    deltas = [e for e in events if "contentBlockDelta" in e]
    assert len(deltas) >= 4
    assert (
        streamed_text(events)
        == converse(brt, "one two three four")["output"]["message"]["content"][0]["text"]
    )
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 6  # ceil(len("Echo: one two three four") / 4)


def test_arn_and_profile_ids_reach_the_emulator(brt, emulator_url: str) -> None:
    stream(brt, "hi", model=ARN)
    assert _get(emulator_url, "/_emulator/last_request")["modelId"] == ARN


def test_tool_use_by_keyword_stream_and_converse(brt) -> None:
    tools = {"tools": [WEATHER_TOOL, OTHER_TOOL]}
    resp = converse(brt, "What is the weather in Paris?", toolConfig=tools)
    assert resp["stopReason"] == "tool_use"
    use = resp["output"]["message"]["content"][0]["toolUse"]
    assert (use["name"], use["input"]) == ("get_weather", {"city": "Paris"})
    events = stream(brt, "What is the weather in Paris?", toolConfig=tools)
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"] == {"toolUseId": use["toolUseId"], "name": "get_weather"}
    pieces = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e]
    assert len(pieces) > 1 and orjson.loads("".join(pieces)) == {"city": "Paris"}


def test_forced_tool_parallel_and_text_before(brt) -> None:
    tools = {"tools": [WEATHER_TOOL, OTHER_TOOL], "toolChoice": {"tool": {"name": "lookup"}}}
    resp = converse(brt, "anything", toolConfig=tools)
    assert resp["output"]["message"]["content"][0]["toolUse"]["name"] == "lookup"
    resp = converse(
        brt, "EMULATOR:parallel_tools=2 EMULATOR:text_before_tool", toolConfig={"tools": [WEATHER_TOOL]}
    )
    content = resp["output"]["message"]["content"]
    assert "text" in content[0] and [list(b) for b in content[1:]] == [["toolUse"], ["toolUse"]]
    assert content[1]["toolUse"]["toolUseId"] != content[2]["toolUse"]["toolUseId"]
    events = stream(
        brt, "EMULATOR:parallel_tools=2 EMULATOR:text_before_tool", toolConfig={"tools": [WEATHER_TOOL]}
    )
    assert [e["contentBlockStart"]["contentBlockIndex"] for e in events if "contentBlockStart" in e] == [1, 2]


def test_tool_result_round_trip(brt) -> None:
    first = converse(brt, "weather?", toolConfig={"tools": [WEATHER_TOOL]})
    use = first["output"]["message"]["content"][0]["toolUse"]
    messages = [
        *user("weather?"),
        first["output"]["message"],
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "sunny, 21C"}]}}],
        },
    ]
    resp = brt.converse(modelId=MODEL, messages=messages, toolConfig={"tools": [WEATHER_TOOL]})
    assert resp["output"]["message"]["content"] == [{"text": "Result: sunny, 21C"}]


def test_thinking_blocks(brt) -> None:
    fields = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    resp = converse(brt, "think", additionalModelRequestFields=fields)
    reasoning = resp["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]
    assert reasoning["text"] and reasoning["signature"]
    events = stream(brt, "think", additionalModelRequestFields=fields)
    deltas = [e["contentBlockDelta"]["delta"] for e in events if "contentBlockDelta" in e]
    assert (
        "".join(d["reasoningContent"].get("text", "") for d in deltas if "reasoningContent" in d)
        == reasoning["text"]
    )
    assert {"reasoningContent": {"signature": reasoning["signature"]}} in deltas


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("ThrottlingException", 429),
        ("ValidationException", 400),
        ("ServiceUnavailableException", 503),
        ("ModelTimeoutException", 408),
        ("InternalServerException", 500),
        ("AccessDeniedException", 403),
        ("ResourceNotFoundException", 404),
        ("ModelNotReadyException", 429),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_error_directive(brt, name: str, status: int, streaming: bool) -> None:
    call = stream if streaming else converse
    with pytest.raises(ClientError) as info:
        call(brt, f"EMULATOR:error={name}:{status}")
    assert info.value.response["Error"]["Code"] == name
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_error_directive_default_status(brt) -> None:
    with pytest.raises(ClientError) as info:
        converse(brt, "EMULATOR:error=ThrottlingException")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


@pytest.mark.parametrize(
    "name",
    [
        "throttlingException",
        "modelStreamErrorException",
        "internalServerException",
        "validationException",
        "serviceUnavailableException",
    ],
)
def test_stream_error_after(brt, name: str) -> None:
    response = brt.converse_stream(
        modelId=MODEL, messages=user(f"EMULATOR:stream_error_after=3:{name} a b c d")
    )
    seen = []
    with pytest.raises(EventStreamError) as info:
        for event in response["stream"]:
            seen.append(event)
    assert len(seen) == 3
    assert info.value.response["Error"]["Code"] == name


def test_truncate_after_ends_without_message_stop(brt) -> None:
    events = stream(brt, "EMULATOR:truncate_after=3 a b c d e")
    assert len(events) == 3 and not any("messageStop" in e for e in events)


def test_delays(brt) -> None:
    started = time.perf_counter()
    converse(brt, "EMULATOR:delay_ms=300")
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    events = stream(brt, "EMULATOR:chunk_delay_ms=30 EMULATOR:reply=a b c")
    assert time.perf_counter() - started >= 0.03 * (len(events) - 1)


def test_reply_stop_words_usage(brt) -> None:
    assert converse(brt, "EMULATOR:reply=Exactly this, please.\nmore")["output"]["message"]["content"] == [
        {"text": "Exactly this, please."}
    ]
    assert converse(brt, "EMULATOR:stop=guardrail_intervened")["stopReason"] == "guardrail_intervened"
    events = stream(brt, "EMULATOR:words=300")
    assert streamed_text(events).split() == [f"word{i}" for i in range(1, 301)]
    assert converse(brt, "EMULATOR:usage=0,0")["usage"] == {
        "inputTokens": 0,
        "outputTokens": 0,
        "totalTokens": 0,
    }
    events = stream(brt, "EMULATOR:usage=12,34")
    assert events[-1]["metadata"]["usage"] == {"inputTokens": 12, "outputTokens": 34, "totalTokens": 46}


def test_bad_directive_is_a_validation_error(brt) -> None:
    with pytest.raises(ClientError, match="ValidationException"):
        converse(brt, "EMULATOR:stop=whenever")


def test_max_tokens_and_stop_sequences(brt) -> None:
    resp = converse(brt, "EMULATOR:words=100", inferenceConfig={"maxTokens": 5})
    assert resp["stopReason"] == "max_tokens" and len(resp["output"]["message"]["content"][0]["text"]) == 20
    resp = converse(brt, "EMULATOR:reply=alpha beta STOP gamma", inferenceConfig={"stopSequences": ["STOP"]})
    assert (resp["stopReason"], resp["output"]["message"]["content"][0]["text"]) == (
        "stop_sequence",
        "alpha beta ",
    )


def test_cache_point_reports_cache_reads(brt) -> None:
    resp = brt.converse(
        modelId=MODEL,
        system=[{"text": "x" * 400}, {"cachePoint": {"type": "default"}}],
        messages=user("hi"),
    )
    assert resp["usage"]["cacheReadInputTokens"] == 100
    assert resp["usage"]["inputTokens"] == 1


@pytest.mark.parametrize(
    ("messages", "extra", "fragment"),
    [
        ([{"role": "assistant", "content": [{"text": "hi"}]}], {}, "alternate"),
        ([*user("a"), *user("b")], {}, "alternate"),
        (user(" "), {}, "blank"),
        (
            [
                *user("a"),
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}],
                },
                {
                    "role": "user",
                    "content": [{"toolResult": {"toolUseId": "t2", "content": [{"text": "x"}]}}],
                },
            ],
            {"toolConfig": {"tools": [WEATHER_TOOL]}},
            "t2",
        ),
        (
            [
                *user("a"),
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}],
                },
            ],
            {},
            "toolConfig",
        ),
    ],
)
def test_validation_like_bedrock(brt, messages: list, extra: dict, fragment: str) -> None:
    with pytest.raises(ClientError) as info:
        brt.converse(modelId=MODEL, messages=messages, **extra)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert fragment in info.value.response["Error"]["Message"]


def test_empty_text_rejected_raw(emulator_url: str) -> None:
    status, body = _post_signed(emulator_url, {"messages": [{"role": "user", "content": [{"text": ""}]}]})
    assert status == 400 and "blank" in body["message"]


def test_unsigned_request_rejected(emulator_url: str) -> None:
    request = urllib.request.Request(f"{emulator_url}/model/{MODEL}/converse", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 403
    assert info.value.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException")


def test_wrong_secret_fails_signature_check(emulator_url: str) -> None:
    bad = boto3.client(
        "bedrock-runtime",
        endpoint_url=emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="wrong",
    )
    with pytest.raises(ClientError, match="InvalidSignatureException"):
        bad.converse(modelId=MODEL, messages=user("hi"))


def test_counters_reset_and_last_request(brt, emulator_url: str) -> None:
    _post(emulator_url, "/_emulator/reset")
    converse(brt, "one")
    stream(brt, "two")
    stream(brt, "three")
    assert _get(emulator_url, "/_emulator/calls") == {
        "converse": 1,
        "converse_stream": 2,
        "total": 3,
        "disconnects": 0,
    }
    last = _get(emulator_url, "/_emulator/last_request")
    assert last["operation"] == "converse_stream" and last["modelId"] == MODEL
    assert last["body"]["messages"] == user("three")
    assert last["headers"]["signed"] is True and last["headers"]["x-amz-security-token"] is True
    _post(emulator_url, "/_emulator/reset")
    assert _get(emulator_url, "/_emulator/calls")["total"] == 0


def _get(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=5) as resp:
        return orjson.loads(resp.read())


def _post(base: str, path: str) -> dict:
    with urllib.request.urlopen(
        urllib.request.Request(base + path, data=b"", method="POST"), timeout=5
    ) as resp:
        return orjson.loads(resp.read())


def _post_signed(base: str, body: dict) -> tuple[int, dict]:
    """boto3 refuses to send an empty text block itself, so sign a raw request the way it would."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        "POST",
        f"{base}/model/m/converse",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("testing", "testing", "testing"), "bedrock", "us-east-1").add_auth(request)
    raw = urllib.request.Request(request.url, data=request.body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def test_native_structured_output_and_strict_tools_as_botocore_sends_them(brt) -> None:
    # botocore validates these shapes against its own service model before sending: our translator's
    # outputConfig and strict toolSpec are what boto3 itself would send.
    schema = '{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}'
    output_config = {"textFormat": {"type": "json_schema",
                                    "structure": {"jsonSchema": {"schema": schema, "name": "place"}}}}
    response = converse(brt, "EMULATOR:reply={\"city\": \"Paris\"}", outputConfig=output_config)
    assert response["output"]["message"]["content"] == [{"text": '{"city": "Paris"}'}]
    assert converse(brt, "anything", outputConfig=output_config)["output"]["message"]["content"] == [{"text": "{}"}]
    strict = {"toolSpec": {**WEATHER_TOOL["toolSpec"], "strict": True}}
    used = converse(brt, "weather? EMULATOR:tool", toolConfig={"tools": [strict]})
    assert used["stopReason"] == "tool_use"
    bad = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "[1, 2"}}}}
    with pytest.raises(ClientError) as exc:
        converse(brt, "x", outputConfig=bad)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
