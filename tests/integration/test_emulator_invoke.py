"""InvokeModel, InvokeModelWithResponseStream and CountTokens on the emulator, driven by unmodified boto3.

boto3 parsing every reply proves the wire format: the REST-JSON errors, the InvokeModel headers, and the
event-stream framing with its CRCs, ``chunk`` events and base64 ``bytes`` payloads.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EventStreamError

from bedrock_emulator.process import emulator_process

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
THINKING = {"type": "enabled", "budget_tokens": 1024}


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


def body(text: str | list[dict] = "Hello", **extra: Any) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 2048,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def invoke(brt, payload: dict, model: str = MODEL) -> tuple[dict, dict]:
    resp = brt.invoke_model(modelId=model, body=json.dumps(payload), contentType="application/json",
                            accept="application/json")
    return json.loads(resp["body"].read()), resp["ResponseMetadata"]["HTTPHeaders"]


def stream(brt, payload: dict, model: str = MODEL) -> list[dict]:
    resp = brt.invoke_model_with_response_stream(modelId=model, body=json.dumps(payload))
    assert resp["contentType"] == "application/json"
    return [json.loads(event["chunk"]["bytes"]) for event in resp["body"]]


def count_tokens(brt, emulator_url: str, source: dict) -> int:
    """CountTokens through boto3 when the installed botocore models it, else as a request signed like boto3's."""
    if "CountTokens" in brt.meta.service_model.operation_names:
        return int(brt.count_tokens(modelId=MODEL, input=source)["inputTokens"])
    if "invokeModel" in source:
        source = {"invokeModel": {"body": base64.b64encode(source["invokeModel"]["body"].encode()).decode()}}
    status, answer = _post_signed(f"{emulator_url}/model/{MODEL}/count-tokens", orjson.dumps({"input": source}))
    assert status == 200, answer
    return int(answer["inputTokens"])


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def test_invoke_model_message_shape_usage_and_headers(brt) -> None:
    message, headers = invoke(brt, body("Hello there, emulator"))
    assert message["id"].startswith("msg_bdrk_")
    assert {k: message[k] for k in ("type", "role", "model", "content", "stop_reason", "stop_sequence")} == {
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "Echo: Hello there, emulator"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
    }
    usage = message["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (6, 7)   # the same as Converse reports
    assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-bedrock-input-token-count"] == "6"
    assert headers["x-amzn-bedrock-output-token-count"] == "7"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    assert headers["x-amzn-requestid"]


def test_invoke_and_converse_report_the_same_usage(brt) -> None:
    message, _ = invoke(brt, body([{"type": "text", "text": "What is the weather in Paris?"}],
                                  system="Be brief.", tools=[WEATHER]))
    converse = brt.converse(
        modelId=MODEL,
        system=[{"text": "Be brief."}],
        messages=[{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}],
        toolConfig={"tools": [{"toolSpec": {"name": WEATHER["name"], "description": WEATHER["description"],
                                            "inputSchema": {"json": WEATHER["input_schema"]}}}]},
    )
    assert message["usage"]["input_tokens"] == converse["usage"]["inputTokens"]
    assert message["usage"]["output_tokens"] == converse["usage"]["outputTokens"]
    use = message["content"][0]
    assert (use["type"], use["name"], use["input"]) == ("tool_use", "get_weather", {"city": "Paris"})
    assert message["stop_reason"] == "tool_use"


def test_text_stream_events_in_order_with_invocation_metrics(brt) -> None:
    events = stream(brt, body("one two three four"))
    assert types(events) == [
        "message_start", "content_block_start", *["content_block_delta"] * 5, "content_block_stop",
        "message_delta", "message_stop",
    ]
    message, _ = invoke(brt, body("one two three four"))
    start = events[0]["message"]
    assert start["id"] == message["id"] and start["content"] == [] and start["usage"]["output_tokens"] == 1
    assert start["usage"]["input_tokens"] == message["usage"]["input_tokens"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == message["content"][0]["text"]
    assert events[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[-2]["usage"] == {"output_tokens": message["usage"]["output_tokens"]}
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == message["usage"]["input_tokens"]
    assert metrics["outputTokenCount"] == message["usage"]["output_tokens"]
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0


def test_thinking_then_tool_use_stream(brt) -> None:
    events = stream(brt, body("What is the weather in Paris?", tools=[WEATHER], thinking=THINKING))
    assert types(events)[0] == "message_start" and types(events)[-2:] == ["message_delta", "message_stop"]
    blocks: list[tuple[str, list[str]]] = []
    for event in events[1:-2]:
        if event["type"] == "content_block_start":
            blocks.append((event["content_block"]["type"], []))
        elif event["type"] == "content_block_delta":
            assert event["index"] == len(blocks) - 1
            blocks[-1][1].append(event["delta"]["type"])
        else:
            assert event == {"type": "content_block_stop", "index": len(blocks) - 1}
    assert [kind for kind, _ in blocks] == ["thinking", "tool_use"]
    assert set(blocks[0][1][:-1]) == {"thinking_delta"} and blocks[0][1][-1] == "signature_delta"
    assert blocks[1][1] == ["input_json_delta"] * 3
    message, _ = invoke(brt, body("What is the weather in Paris?", tools=[WEATHER], thinking=THINKING))
    thinking, use = message["content"]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert "".join(d.get("thinking", "") for d in deltas) == thinking["thinking"]
    assert [d["signature"] for d in deltas if d["type"] == "signature_delta"] == [thinking["signature"]]
    assert json.loads("".join(d.get("partial_json", "") for d in deltas)) == use["input"] == {"city": "Paris"}
    tool_start = next(e for e in events if e["type"] == "content_block_start" and e["index"] == 1)
    assert tool_start["content_block"] == {"type": "tool_use", "id": use["id"], "name": "get_weather", "input": {}}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_tool_result_round_trip(brt) -> None:
    first, _ = invoke(brt, body("weather?", tools=[WEATHER]))
    follow_up = body(tools=[WEATHER])
    follow_up["messages"] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first["content"][0]["id"],
                                      "content": [{"type": "text", "text": "sunny, 21C"}]}]},
    ]
    message, _ = invoke(brt, follow_up)
    assert message["content"] == [{"type": "text", "text": "Result: sunny, 21C"}]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"model": "anthropic.claude"}, "extraneous key [model] is not permitted"),
        ({"anthropic_beta": ["not-a-beta-2099-01-01"]}, "invalid beta flag"),
        ({"anthropic_version": None}, "required key [anthropic_version] not found"),
        ({"max_tokens": None}, "required key [max_tokens] not found"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "first message"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "alternate"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_validation_errors(brt, change: dict, fragment: str, streaming: bool) -> None:
    payload = body()
    for key, value in change.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    with pytest.raises(ClientError) as info:
        (stream if streaming else invoke)(brt, payload)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fragment in info.value.response["Error"]["Message"]


def test_known_betas_accepted(brt) -> None:
    message, _ = invoke(brt, body(anthropic_beta=["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]))
    assert message["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("name", "status"),
    [("ThrottlingException", 429), ("ModelTimeoutException", 408), ("ServiceUnavailableException", 503),
     ("InternalServerException", 500), ("AccessDeniedException", 403), ("ModelErrorException", 424)],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_error_directive_before_first_byte(brt, name: str, status: int, streaming: bool) -> None:
    with pytest.raises(ClientError) as info:
        (stream if streaming else invoke)(brt, body(f"EMULATOR:error={name}:{status}"))
    assert info.value.response["Error"]["Code"] == name
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize(
    "name",
    ["throttlingException", "modelStreamErrorException", "internalServerException", "validationException",
     "modelTimeoutException", "serviceUnavailableException"],
)
def test_stream_error_after_is_an_event_stream_exception(brt, name: str) -> None:
    resp = brt.invoke_model_with_response_stream(
        modelId=MODEL, body=json.dumps(body(f"EMULATOR:stream_error_after=3:{name} a b c d"))
    )
    seen = []
    with pytest.raises(EventStreamError) as info:
        for event in resp["body"]:
            seen.append(json.loads(event["chunk"]["bytes"]))
    assert types(seen) == ["message_start", "content_block_start", "content_block_delta"]
    assert info.value.response["Error"]["Code"] == name


def test_truncate_after_ends_without_message_stop(brt) -> None:
    events = stream(brt, body("EMULATOR:truncate_after=4 a b c d e"))
    assert len(events) == 4 and "message_stop" not in types(events)


def test_delays(brt) -> None:
    started = time.perf_counter()
    _, headers = invoke(brt, body("EMULATOR:delay_ms=300"))
    assert time.perf_counter() - started >= 0.3 and int(headers["x-amzn-bedrock-invocation-latency"]) >= 300
    started = time.perf_counter()
    events = stream(brt, body("EMULATOR:chunk_delay_ms=30 EMULATOR:reply=a b c"))
    assert time.perf_counter() - started >= 0.03 * (len(events) - 1)
    assert events[-1]["amazon-bedrock-invocationMetrics"]["invocationLatency"] >= 30 * (len(events) - 1)


def test_directives(brt) -> None:
    message, _ = invoke(brt, body("EMULATOR:reply=Exactly this.\nmore"))
    assert message["content"] == [{"type": "text", "text": "Exactly this."}]
    assert invoke(brt, body("EMULATOR:stop=refusal"))[0]["stop_reason"] == "refusal"
    usage = invoke(brt, body("EMULATOR:usage=12,34"))[0]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (12, 34)
    events = stream(brt, body("EMULATOR:words=300"))
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text.split() == [f"word{i}" for i in range(1, 301)]
    cut, _ = invoke(brt, body("EMULATOR:reply=alpha beta STOP gamma", stop_sequences=["STOP"]))
    assert (cut["content"][0]["text"], cut["stop_reason"], cut["stop_sequence"]) == (
        "alpha beta ", "stop_sequence", "STOP"
    )
    assert invoke(brt, body("EMULATOR:thinking hi"))[0]["content"][0]["type"] == "thinking"
    with pytest.raises(ClientError, match="ValidationException"):
        invoke(brt, body("EMULATOR:stop=guardrail_intervened"))   # a Converse stopReason, not Anthropic's


def test_prompt_caching(brt) -> None:
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}]
    message, headers = invoke(brt, body("hi", system=system))
    assert (message["usage"]["cache_read_input_tokens"], message["usage"]["input_tokens"]) == (100, 1)
    assert headers["x-amzn-bedrock-cache-read-input-token-count"] == "100"
    converse = brt.converse(modelId=MODEL, system=[{"text": "x" * 400}, {"cachePoint": {"type": "default"}}],
                            messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert converse["usage"]["cacheReadInputTokens"] == 100
    written = stream(brt, body("EMULATOR:cache_write", system=system))
    assert written[0]["message"]["usage"]["cache_creation_input_tokens"] == 100
    assert written[-1]["amazon-bedrock-invocationMetrics"]["cacheWriteInputTokenCount"] == 100


def test_count_tokens_predicts_invoke_and_converse_input(brt, emulator_url: str) -> None:
    payload = body("What is the weather in Paris?", system="Be brief.", tools=[WEATHER])
    message, _ = invoke(brt, payload)
    assert count_tokens(brt, emulator_url, {"invokeModel": {"body": json.dumps(payload)}}) == (
        message["usage"]["input_tokens"]
    )
    messages = [{"role": "user", "content": [{"text": "Hello there, emulator"}]}]
    converse = brt.converse(modelId=MODEL, messages=messages)
    assert count_tokens(brt, emulator_url, {"converse": {"messages": messages}}) == converse["usage"]["inputTokens"]


def test_count_tokens_validation(brt) -> None:
    bad = json.dumps({**body(), "model": "x"})
    with pytest.raises(ClientError) as info:
        brt.count_tokens(modelId=MODEL, input={"invokeModel": {"body": bad}})
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "extraneous key [model]" in info.value.response["Error"]["Message"]


def test_arn_reaches_the_emulator(brt, emulator_url: str) -> None:
    stream(brt, body("hi"), model=ARN)
    last = _get(emulator_url, "/_emulator/last_request")
    assert (last["operation"], last["modelId"]) == ("invoke_model_with_response_stream", ARN)
    message, _ = invoke(brt, body("hi"), model=ARN)
    assert message["model"] == ARN


def test_counters_and_last_request(brt, emulator_url: str) -> None:
    _post(emulator_url, "/_emulator/reset")
    invoke(brt, body("one"))
    stream(brt, body("two"))
    stream(brt, body("three"))
    brt.count_tokens(modelId=MODEL, input={"invokeModel": {"body": json.dumps(body("four"))}})
    brt.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "five"}]}])
    assert _get(emulator_url, "/_emulator/calls") == {
        "converse": 1,
        "converse_stream": 0,
        "invoke_model": 1,
        "invoke_model_with_response_stream": 2,
        "count_tokens": 1,
        "total": 5,
        "disconnects": 0,
    }
    last = _get(emulator_url, "/_emulator/last_request")
    assert last["operation"] == "converse"
    brt.invoke_model_with_response_stream(
        modelId=MODEL, body=json.dumps(body("six", anthropic_beta=["context-1m-2025-08-07"])),
        trace="ENABLED", performanceConfigLatency="optimized",
    )["body"].close()
    last = _get(emulator_url, "/_emulator/last_request")
    assert last["operation"] == "invoke_model_with_response_stream" and last["modelId"] == MODEL
    assert last["body"]["anthropic_version"] == "bedrock-2023-05-31" and "model" not in last["body"]
    assert last["body"]["anthropic_beta"] == ["context-1m-2025-08-07"]
    assert last["headers"]["signed"] is True
    assert last["headers"]["x-amzn-bedrock-trace"] == "ENABLED"
    assert last["headers"]["x-amzn-bedrock-performanceconfig-latency"] == "optimized"
    brt.count_tokens(modelId=MODEL, input={"invokeModel": {"body": json.dumps(body("seven"))}})
    last = _get(emulator_url, "/_emulator/last_request")
    assert last["operation"] == "count_tokens" and last["invokeBody"]["messages"][0]["content"] == "seven"
    _post(emulator_url, "/_emulator/reset")
    assert _get(emulator_url, "/_emulator/calls")["total"] == 0


def test_invalid_json_body_is_a_validation_error(emulator_url: str) -> None:
    status, answer = _post_signed(f"{emulator_url}/model/{MODEL}/invoke", b"{not json")
    assert status == 400 and "Malformed input request" in answer["message"]


def test_unsigned_request_rejected(emulator_url: str) -> None:
    request = urllib.request.Request(f"{emulator_url}/model/{MODEL}/invoke", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 403
    assert info.value.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException")


@pytest.mark.parametrize("operation", ["invoke_model", "invoke_model_with_response_stream", "count_tokens"])
def test_wrong_secret_fails_signature_check(emulator_url: str, operation: str) -> None:
    bad = boto3.client(
        "bedrock-runtime",
        endpoint_url=emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="wrong",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    kwargs: dict[str, Any] = {"modelId": MODEL}
    if operation == "count_tokens":
        kwargs["input"] = {"invokeModel": {"body": json.dumps(body())}}
    else:
        kwargs["body"] = json.dumps(body())
    with pytest.raises(ClientError, match="InvalidSignatureException"):
        getattr(bad, operation)(**kwargs)


def _get(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=5) as resp:
        return orjson.loads(resp.read())


def _post(base: str, path: str) -> dict:
    with urllib.request.urlopen(
        urllib.request.Request(base + path, data=b"", method="POST"), timeout=5
    ) as resp:
        return orjson.loads(resp.read())


def _post_signed(url: str, data: bytes) -> tuple[int, dict]:
    """A request signed the way boto3 signs it, for bodies boto3 would not send itself."""
    request = AWSRequest("POST", url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("testing", "testing", "testing"), "bedrock", "us-east-1").add_auth(request)
    raw = urllib.request.Request(request.url, data=request.body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())
