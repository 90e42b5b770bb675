"""OpenAI-format providers: what passes through, what is removed, usage, URLs, auth and error mapping."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from proxy.catalog.catalog import ModelEntry
from proxy.catalog.providers import ProviderConfig
from proxy.errors import InvalidRequest, RateLimited, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from proxy.providers.openai_format.client import OpenAIFormatClient
from proxy.providers.openai_format.errors import upstream_error
from proxy.providers.openai_format.provider import OpenAIFormatProvider, PreparedPassthrough, openai_usage
from translators.openai_bedrock.capabilities import ModelCapabilities
from translators.usage import Usage

LOCAL = ProviderConfig(name="local", kind="openai_compatible", base_url="http://127.0.0.1:9200/v1")
AZURE = ProviderConfig(name="az", kind="azure", base_url="https://gw.openai.azure.com", api_key_env="K",
                       api_version="2024-10-21")
ENTRY = ModelEntry(alias="echo", bedrock_id="echo-mini", description="", capabilities=ModelCapabilities(),
                   price=None, provider="local")


def provider(config: ProviderConfig = LOCAL, key: str | None = "k") -> OpenAIFormatProvider:
    return OpenAIFormatProvider(OpenAIFormatClient(config, key, connect_timeout_s=1, first_byte_timeout_s=1,
                                                   idle_timeout_s=1))


def prepare(body: dict[str, Any], entry: ModelEntry = ENTRY) -> PreparedPassthrough:
    prepared = provider().prepare(body, entry, drop_unsupported=False)
    assert isinstance(prepared, PreparedPassthrough)
    return prepared


def test_the_body_passes_through_with_only_the_model_rewritten_and_gateway_fields_removed() -> None:
    body = {"model": "echo", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
        "temperature": 1.7, "logprobs": True, "n": 2, "response_format": {"type": "json_object"},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}, "cache_control": {}}],
        "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"}, "prompt_caching": True,
        "vendor_field": {"kept": True}}
    prepared = prepare(body)
    assert prepared.body == {
        "model": "echo-mini", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "temperature": 1.7, "logprobs": True, "n": 2, "response_format": {"type": "json_object"},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "vendor_field": {"kept": True}}
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}  # the client's copy intact
    assert not prepared.stream and prepared.prompt_estimate > 0


def test_streams_always_ask_the_upstream_for_usage() -> None:
    prepared = prepare({"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    assert prepared.body["stream_options"] == {"include_usage": True} and not prepared.client_wants_usage
    asked = prepare({"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                     "stream_options": {"include_usage": True}})
    assert asked.client_wants_usage


def test_azure_v1_bodies_name_the_deployment() -> None:
    entry = replace(ENTRY, provider="az", deployment="gw-mini", bedrock_id="gpt-4o-mini")
    assert prepare({"model": "x", "messages": [{"role": "user", "content": "hi"}]}, entry).body["model"] == "gw-mini"


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "echo"}, "messages"), ({"model": "echo", "messages": []}, "messages"),
    ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "stream_options": 1}, "stream_options"),
])
def test_what_admission_reads_is_checked_before_any_upstream_call(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        prepare(body)
    assert caught.value.param == param


def test_messages_api_is_refused_in_words_for_openai_format_models() -> None:
    with pytest.raises(InvalidRequest, match="/v1/chat/completions"):
        provider().prepare_messages({}, ENTRY, beta_header=None)


def test_usage_counts_cached_tokens_apart() -> None:
    assert openai_usage({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                         "prompt_tokens_details": {"cached_tokens": 60},
                         "completion_tokens_details": {"reasoning_tokens": 5}}) == Usage(
        input_tokens=40, output_tokens=20, cache_read_tokens=60, reasoning_tokens=5)
    assert openai_usage({"prompt_tokens": 10}) is None
    assert openai_usage({"prompt_tokens": 3, "completion_tokens": 1,
                         "prompt_tokens_details": {"cached_tokens": 99}}) == Usage(output_tokens=1,
                                                                                   cache_read_tokens=3)


def test_urls_and_auth_headers_per_kind() -> None:
    local = OpenAIFormatClient(LOCAL, "k", connect_timeout_s=1, first_byte_timeout_s=1, idle_timeout_s=1)
    assert local.url("chat/completions", None) == "http://127.0.0.1:9200/v1/chat/completions"
    assert local._headers["Authorization"] == "Bearer k"
    azure = OpenAIFormatClient(AZURE, "secret", connect_timeout_s=1, first_byte_timeout_s=1, idle_timeout_s=1)
    assert azure.url("chat/completions", "gw mini") == (
        "https://gw.openai.azure.com/openai/deployments/gw%20mini/chat/completions?api-version=2024-10-21")
    assert azure._headers["api-key"] == "secret" and "Authorization" not in azure._headers
    entra = OpenAIFormatClient(replace(AZURE, auth="bearer", path="v1"), "tok", connect_timeout_s=1,
                               first_byte_timeout_s=1, idle_timeout_s=1)
    assert entra.url("embeddings", None) == "https://gw.openai.azure.com/openai/v1/embeddings"
    assert entra._headers["Authorization"] == "Bearer tok"
    keyless = OpenAIFormatClient(LOCAL, None, connect_timeout_s=1, first_byte_timeout_s=1, idle_timeout_s=1)
    assert "Authorization" not in keyless._headers


def test_upstream_errors_map_to_the_clients_envelope() -> None:
    bad = upstream_error(400, {"error": {"message": "bad n", "param": "n", "code": "invalid_value"}}, {},
                         provider="p", request_id="r")
    assert isinstance(bad, InvalidRequest) and (bad.message, bad.param, bad.code) == ("bad n", "n", "invalid_value")
    throttled = upstream_error(429, {}, {"retry-after-ms": "2500"}, provider="p", request_id="r")
    assert isinstance(throttled, RateLimited) and throttled.retry_after_s == 2.5
    assert throttled.headers["retry-after"] == "3"
    refused = upstream_error(401, {"error": {"message": "Incorrect API key sk-abc"}}, {}, provider="p",
                             request_id="r")
    assert isinstance(refused, UpstreamError) and "sk-abc" not in refused.message
    assert refused.code == "upstream_refused"
    quota = upstream_error(429, {"error": {"code": "insufficient_quota", "message": "m"}}, {}, provider="p",
                           request_id="r")
    assert quota.code == "upstream_refused"
    assert isinstance(upstream_error(503, {}, {}, provider="p", request_id="r"), UpstreamUnavailable)
    assert isinstance(upstream_error(504, {}, {}, provider="p", request_id="r"), UpstreamTimeout)
    assert upstream_error(500, "not json", {}, provider="p", request_id="r").status == 502
