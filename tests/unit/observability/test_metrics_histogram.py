"""Latency histograms in Prometheus' text format: cumulative buckets, +Inf, _sum and _count."""

from __future__ import annotations

from proxy.observability.metrics import Histogram, Metrics


def test_histogram_renders_cumulative_buckets() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):  # a value equal to a bound belongs to that bucket (le)
        histogram.observe(("m", "true"), value)
    lines = histogram.render("x_seconds", "help", ("model", "streaming"))
    assert lines == [
        "# HELP x_seconds help",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{model="m",streaming="true",le="0.1"} 2',
        'x_seconds_bucket{model="m",streaming="true",le="1.0"} 3',
        'x_seconds_bucket{model="m",streaming="true",le="+Inf"} 4',
        'x_seconds_sum{model="m",streaming="true"} 3.650000',
        'x_seconds_count{model="m",streaming="true"} 4',
    ]


def test_observe_timing_feeds_three_histograms() -> None:
    metrics = Metrics()
    metrics.observe_timing("claude", True, 1.2, 0.0003, 0.4)
    metrics.observe_timing("claude", False, 0.8, 0.0002, None)
    assert set(metrics.duration.series) == {("claude", "true"), ("claude", "false")}
    assert set(metrics.overhead.series) == {("true",), ("false",)}
    assert list(metrics.first_token.series) == [("claude",)]


def test_model_labels_are_bounded() -> None:
    from decimal import Decimal

    from proxy.observability.metrics import MAX_MODEL_LABELS

    metrics = Metrics()
    for i in range(MAX_MODEL_LABELS + 50):
        metrics.count_call("t", f"anthropic.fake-{i}", "upstream_error", 1, 0, Decimal(0))
        metrics.observe_timing(f"anthropic.fake-{i}", False, 0.1, 0.0001, None)
    assert len({model for _, model, _ in metrics.requests}) == MAX_MODEL_LABELS + 1
    assert metrics.requests["t", "_other", "upstream_error"] == 50
    assert len(metrics.duration.series) == MAX_MODEL_LABELS + 1
    metrics.count_call("t", "anthropic.fake-0", "ok", 1, 0, Decimal(0))  # a known label stays itself
    assert metrics.requests["t", "anthropic.fake-0", "ok"] == 1
