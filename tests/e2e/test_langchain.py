"""LangChain's ChatOpenAI, unmodified, against the gateway: invoke, stream, bind_tools, structured output."""

from __future__ import annotations

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.e2e.conftest import DEMO_KEY, Gateway

pytestmark = pytest.mark.e2e


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"21C in {city}"


class Answer(BaseModel):
    city: str
    temperature_c: float


def llm(gateway: Gateway, **kwargs: object) -> ChatOpenAI:
    return ChatOpenAI(base_url=gateway.base_url, api_key=DEMO_KEY, model="claude-3-haiku", max_retries=0,
                      **kwargs)  # type: ignore[arg-type]


def test_invoke_and_stream(gateway: Gateway) -> None:
    assert llm(gateway).invoke("EMULATOR:reply=hello from bedrock").content == "hello from bedrock"
    pieces = [chunk.content for chunk in llm(gateway).stream("EMULATOR:reply=a b c d e f g")]
    assert "".join(pieces) == "a b c d e f g" and len([p for p in pieces if p]) > 1


def test_stream_usage_metadata(gateway: Gateway) -> None:
    chunks = list(llm(gateway, stream_usage=True).stream("EMULATOR:reply=count me"))
    total = None
    for chunk in chunks:
        total = chunk if total is None else total + chunk
    assert total is not None and total.usage_metadata and total.usage_metadata["total_tokens"] > 0


def test_bind_tools_round_trip(gateway: Gateway) -> None:
    model = llm(gateway).bind_tools([get_weather])
    first = model.invoke("What is the weather in Paris? EMULATOR:tool")
    assert first.tool_calls and first.tool_calls[0]["name"] == "get_weather"
    call = first.tool_calls[0]
    result = ToolMessage(content=get_weather.invoke(call["args"]), tool_call_id=call["id"])
    second = model.invoke(["What is the weather in Paris?", first, result])
    assert isinstance(second.content, str) and second.content


def test_streamed_tool_calls_are_one_call(gateway: Gateway) -> None:
    model = llm(gateway).bind_tools([get_weather])
    merged = None
    for chunk in model.stream("weather in Paris? EMULATOR:tool"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and len(merged.tool_calls) == 1
    assert merged.tool_calls[0]["args"].get("city")


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output(gateway: Gateway, method: str) -> None:
    structured = llm(gateway).with_structured_output(Answer, method=method)  # type: ignore[arg-type]
    prompt = "Weather in Paris as JSON with city and temperature_c"
    if method == "json_mode":
        prompt += ' EMULATOR:reply={"city": "Paris", "temperature_c": 21}'
    answer = structured.invoke(prompt)
    assert isinstance(answer, Answer) and answer.city
