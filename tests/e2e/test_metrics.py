"""GET /metrics: Prometheus text with per-team traffic, tokens, cost and errors, behind the admin key."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.conftest import ADMIN_KEY, DEMO_KEY, Gateway, GatewayFactory
from tests.e2e.test_openai_sdk import user

pytestmark = pytest.mark.e2e


def test_metrics_count_calls_tokens_cost_and_errors(gateway: Gateway) -> None:
    gateway.client().chat.completions.create(model="nova-micro", messages=user("EMULATOR:usage=7,3\nEMULATOR:reply=x"))
    with pytest.raises(openai.NotFoundError):
        gateway.client().chat.completions.create(model="no-such-model", messages=user("x"))
    assert httpx.get(f"{gateway.url}/metrics").status_code == 401
    assert httpx.get(f"{gateway.url}/metrics", headers={"x-api-key": DEMO_KEY}).status_code == 403
    text = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
    assert 'llm_gateway_requests_total{team="demo",model="nova-micro",status="ok"}' in text
    assert 'llm_gateway_tokens_total{team="demo",model="nova-micro",kind="prompt"}' in text
    assert 'llm_gateway_cost_usd_total{team="demo",model="nova-micro"}' in text
    assert 'llm_gateway_errors_total{status="404",code="model_not_found"}' in text
    assert "llm_gateway_usage_pending" in text and "llm_gateway_auth_cache_entries" in text
    assert 'llm_gateway_catalog_unverified_prices{region="us-east-1"} 0' in text
    assert 'llm_gateway_request_duration_seconds_bucket{model="nova-micro",streaming="false",le="+Inf"}' in text
    assert 'llm_gateway_overhead_seconds_count{streaming="false"}' in text


def test_streams_feed_the_time_to_first_token_histogram(gateway: Gateway) -> None:
    def scrape() -> dict[str, float]:
        text = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines() if line and not line.startswith("#")}

    count = 'llm_gateway_time_to_first_token_seconds_count{model="claude-3-haiku"}'
    before = scrape().get(count, 0)
    stream = gateway.client().chat.completions.create(
        model="claude-3-haiku", stream=True,
        messages=user("EMULATOR:chunk_delay_ms=30\nEMULATOR:reply=one two three"))
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "one two three"
    after = scrape()
    assert after[count] == before + 1
    # The first token came after one chunk delay, the whole stream after several.
    total = after['llm_gateway_request_duration_seconds_sum{model="claude-3-haiku",streaming="true"}']
    assert after['llm_gateway_time_to_first_token_seconds_sum{model="claude-3-haiku"}'] < total


def test_region_without_list_prices_is_said_at_startup(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(AWS_REGION="eu-central-2")
    assert "catalog: no list price for region eu-central-2" in gateway.logs()
    text = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
    line = next(x for x in text.splitlines() if x.startswith("llm_gateway_catalog_unverified_prices{"))
    assert line.startswith('llm_gateway_catalog_unverified_prices{region="eu-central-2"}') and int(line.split()[1]) > 0
    gateway.stop()
