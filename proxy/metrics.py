"""Prometheus text metrics: per-team traffic, tokens and cost, errors, and the health of each subsystem.

Counters are plain dict increments on the hot path (no library, no lock: one event loop per process).
GET /metrics needs the admin key, because team ids and spend are business data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from proxy import pricing
from proxy.admin_auth import require_admin

if TYPE_CHECKING:
    from proxy.services import Services


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()  # (team, model, status)
        self.tokens: Counter[tuple[str, str, str]] = Counter()  # (team, model, prompt|completion)
        self.cost_usd: dict[tuple[str, str], Decimal] = {}  # (team, model)
        self.errors: Counter[tuple[int, str]] = Counter()  # (HTTP status, error code)

    def count_call(self, team: str, model: str, status: str, prompt: int, completion: int, cost: Decimal) -> None:
        self.requests[team, model, status] += 1
        self.tokens[team, model, "prompt"] += prompt
        self.tokens[team, model, "completion"] += completion
        self.cost_usd[team, model] = self.cost_usd.get((team, model), Decimal(0)) + cost

    def count_error(self, status: int, code: str | None) -> None:
        self.errors[status, code or ""] += 1


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(name: str, kind: str, help_text: str, rows: list[tuple[dict[str, object], object]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in rows:
        inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {value}" if inner else f"{name} {value}")
    return lines


def render(services: Services) -> str:
    m: Metrics = services.metrics
    out: list[str] = []
    out += _series("llm_gateway_requests_total", "counter", "Chat calls that reached Bedrock, by outcome.",
                   [({"team": t, "model": mo, "status": s}, n) for (t, mo, s), n in sorted(m.requests.items())])
    out += _series("llm_gateway_tokens_total", "counter", "Tokens by team, model and kind.",
                   [({"team": t, "model": mo, "kind": k}, n) for (t, mo, k), n in sorted(m.tokens.items())])
    out += _series("llm_gateway_cost_usd_total", "counter", "Cost in USD by team and model.",
                   [({"team": t, "model": mo}, format(c, "f")) for (t, mo), c in sorted(m.cost_usd.items())])
    out += _series("llm_gateway_errors_total", "counter", "Error responses by HTTP status and code.",
                   [({"status": s, "code": c}, n) for (s, c), n in sorted(m.errors.items())])
    out += _series("llm_gateway_missing_price_total", "counter", "Calls priced without a catalog price (alert).",
                   [({"model": mo}, n) for mo, n in sorted(pricing.missing_price_total.items())])
    stats = asdict(services.usage.stats)
    out += _series("llm_gateway_usage_records_total", "counter", "Usage recorder counters.",
                   [({"event": k}, v) for k, v in stats.items()])
    out += _series("llm_gateway_usage_pending", "gauge", "Usage records not yet in the store.",
                   [({}, services.usage.pending)])
    positive, negative = services.auth.cache_sizes
    out += _series("llm_gateway_auth_cache_entries", "gauge", "Cached key lookups.",
                   [({"kind": "positive"}, positive), ({"kind": "negative"}, negative)])
    out += _series("llm_gateway_ratelimit_fallback_total", "counter",
                   "Admissions answered in-process while Redis was unavailable.",
                   [({}, getattr(services.limiter, "fallback_count", 0))])
    return "\n".join(out) + "\n"


async def metrics_endpoint(request: Request) -> Response:
    require_admin(request)
    return Response(render(request.app.state.services), media_type="text/plain; version=0.0.4")
