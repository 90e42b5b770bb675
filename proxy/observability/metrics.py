"""Prometheus text metrics: per-team traffic, tokens and cost, errors, latency histograms (total, gateway
overhead, time to first token) and the health of each subsystem.

Counters are plain dict increments on the hot path (no library, no lock: one event loop per process).
Subsystems add their own series as collectors (``Metrics.collect``): the composition root
(proxy/services.py) registers them, so this module imports none of them. GET /metrics
(proxy/api/metrics.py) needs the admin key, because team ids and spend are business data.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal

# Seconds. Upstream latency spans milliseconds (emulator, cache hits) to minutes (long generations);
# the gateway's own overhead is sub-millisecond when healthy, so it gets finer buckets of its own.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


class Histogram:
    """Cumulative-bucket histogram per label tuple: observe() is one bisect and two additions."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.series: dict[tuple[str, ...], list[float]] = {}  # labels -> [count per bucket..., +Inf, sum]

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        row[bisect_left(self.buckets, value)] += 1
        row[-1] += value

    def render(self, name: str, help_text: str, label_names: tuple[str, ...]) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for labels, row in sorted(self.series.items()):
            base = ",".join(f'{k}="{_label(v)}"' for k, v in zip(label_names, labels, strict=True))
            sep = "," if base else ""
            running = 0.0
            for bound, count in zip((*self.buckets, "+Inf"), row[:-1], strict=True):
                running += count
                lines.append(f'{name}_bucket{{{base}{sep}le="{bound}"}} {int(running)}')
            lines.append(f"{name}_sum{{{base}}} {row[-1]:.6f}" if base else f"{name}_sum {row[-1]:.6f}")
            lines.append(f"{name}_count{{{base}}} {int(running)}" if base else f"{name}_count {int(running)}")
        return lines


# Raw Bedrock ids are accepted as model names, so a client could mint any number of distinct labels;
# past this many, new ones are counted under "_other" (a memory and Prometheus-cardinality bound).
MAX_MODEL_LABELS = 200
OTHER_MODEL = "_other"


class Metrics:
    def __init__(self) -> None:
        self._models: set[str] = set()
        self.requests: Counter[tuple[str, str, str]] = Counter()  # (team, model, status)
        self.tokens: Counter[tuple[str, str, str]] = Counter()  # (team, model, prompt|completion)
        self.cost_usd: dict[tuple[str, str], Decimal] = {}  # (team, model)
        self.errors: Counter[tuple[int, str]] = Counter()  # (HTTP status, error code)
        self.duration = Histogram(LATENCY_BUCKETS)  # (model, streaming): arrival to last byte
        self.first_token = Histogram(LATENCY_BUCKETS)  # (model,): arrival to first generated text, streams
        self.overhead = Histogram(OVERHEAD_BUCKETS)  # (streaming,): time spent in the gateway itself
        self.missing_price: Counter[str] = Counter()  # model: calls priced without a catalog price
        self.collectors: list[Callable[[], Iterable[str]]] = []

    def collect(self, collector: Callable[[], Iterable[str]]) -> None:
        """Add a subsystem's series (Prometheus text lines, e.g. from ``series``) to every render."""
        self.collectors.append(collector)

    def count_missing_price(self, model: str) -> None:
        self.missing_price[self.model_label(model)] += 1

    def model_label(self, model: str) -> str:
        if model in self._models:
            return model
        if len(self._models) >= MAX_MODEL_LABELS:
            return OTHER_MODEL
        self._models.add(model)
        return model

    def observe_timing(self, model: str, streaming: bool, duration_s: float, overhead_s: float,
                       first_token_s: float | None) -> None:
        model = self.model_label(model)
        mode = "true" if streaming else "false"
        self.duration.observe((model, mode), duration_s)
        self.overhead.observe((mode,), overhead_s)
        if first_token_s is not None:
            self.first_token.observe((model,), first_token_s)

    def count_call(self, team: str, model: str, status: str, prompt: int, completion: int, cost: Decimal) -> None:
        model = self.model_label(model)
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


def series(name: str, kind: str, help_text: str, rows: list[tuple[dict[str, object], object]]) -> list[str]:
    return _series(name, kind, help_text, rows)


def render(m: Metrics) -> str:
    out: list[str] = []
    out += _series("llm_gateway_requests_total", "counter", "Chat calls that reached the upstream, by outcome.",
                   [({"team": t, "model": mo, "status": s}, n) for (t, mo, s), n in sorted(m.requests.items())])
    out += _series("llm_gateway_tokens_total", "counter", "Tokens by team, model and kind.",
                   [({"team": t, "model": mo, "kind": k}, n) for (t, mo, k), n in sorted(m.tokens.items())])
    out += _series("llm_gateway_cost_usd_total", "counter", "Cost in USD by team and model.",
                   [({"team": t, "model": mo}, format(c, "f")) for (t, mo), c in sorted(m.cost_usd.items())])
    out += _series("llm_gateway_errors_total", "counter", "Error responses by HTTP status and code.",
                   [({"status": s, "code": c}, n) for (s, c), n in sorted(m.errors.items())])
    out += m.duration.render("llm_gateway_request_duration_seconds",
                             "Chat calls that reached the upstream: arrival to the end of the response.",
                             ("model", "streaming"))
    out += m.first_token.render("llm_gateway_time_to_first_token_seconds",
                                "Streamed chat calls: arrival to the first generated text relayed.", ("model",))
    out += m.overhead.render("llm_gateway_overhead_seconds",
                             "Time spent in the gateway itself, before and after the upstream call.", ("streaming",))
    out += _series("llm_gateway_missing_price_total", "counter", "Calls priced without a catalog price (alert).",
                   [({"model": mo}, n) for mo, n in sorted(m.missing_price.items())])
    for collector in m.collectors:
        out += collector()
    return "\n".join(out) + "\n"
