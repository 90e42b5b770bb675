"""Prompt caching and PDF file parts through the openai SDK, a real gateway process and the Bedrock emulator."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import Gateway

pytestmark = pytest.mark.e2e

SYSTEM = "You are a support agent for ACME. " + "Policy: be precise and cite the manual. " * 40
PDF = base64.b64encode(
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
).decode()


def _last_body(emulator_url: str) -> dict[str, Any]:
    """The Converse body the emulator last received (tests in this module run one at a time)."""
    return httpx.get(f"{emulator_url}/_emulator/last_request", timeout=10).json()["body"]


def test_prompt_caching_extra_body_reports_cached_tokens(gateway: Gateway, emulator_url: str) -> None:
    completion = gateway.client().chat.completions.create(
        model="claude-3-7-sonnet",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "EMULATOR:reply=ok"}],
        extra_body={"prompt_caching": True},
    )
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens > 0
    assert usage.prompt_tokens >= usage.prompt_tokens_details.cached_tokens  # PITFALLS #35: reads are inside
    assert completion.choices[0].message.content == "ok"
    body = _last_body(emulator_url)
    assert body["system"][-1] == {"cachePoint": {"type": "default"}}
    assert body["messages"][-1]["content"][-1] == {"cachePoint": {"type": "default"}}
    assert "prompt_caching" not in body


def test_cache_control_part_reports_cached_tokens_and_is_not_forwarded(gateway: Gateway, emulator_url: str) -> None:
    completion = gateway.client().chat.completions.create(
        model="claude-3-7-sonnet",
        messages=[
            {"role": "system", "content": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "EMULATOR:reply=ok"},
        ],  # type: ignore[list-item]
    )
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens > 0
    assert "cache_control" not in str(_last_body(emulator_url))


def test_prompt_caching_on_a_model_without_it_is_400(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gateway.client().chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "Hi"}], extra_body={"prompt_caching": True}
        )
    assert info.value.body["param"] == "prompt_caching"  # type: ignore[index]


def test_pdf_file_part_on_nova_pro(gateway: Gateway, emulator_url: str) -> None:
    completion = gateway.client().chat.completions.create(
        model="nova-pro",
        messages=[{"role": "user", "content": [
            {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "report.pdf"}},
            {"type": "text", "text": "Summarise the attached report EMULATOR:reply=A short report."},
        ]}],  # type: ignore[list-item]
    )
    assert completion.choices[0].message.content == "A short report."
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    document = _last_body(emulator_url)["messages"][-1]["content"][0]["document"]
    assert (document["format"], document["name"], document["source"]["bytes"]) == ("pdf", "report", PDF)
