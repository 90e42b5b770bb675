"""The suite's Markdown: one table of scenarios x targets with ratios and targets, then the load generator."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Results = dict[str, dict[str, Any]]  # scenario -> target name -> that scenario's numbers
GATEWAY = "llm-gateway"


def num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0 or any(isinstance(v, float) and math.isnan(v) for v in (a, b)):
        return "—"
    return f"{a / b:.2f}×"


class Table:
    def __init__(self, names: list[str]) -> None:
        self.direct, self.peer = names[0], (names[2] if len(names) > 2 else None)
        self.rows: list[str] = []

    def add(self, label: str, cells: dict[str, str], vs_direct: str, vs_peer: str, target: str) -> None:
        peer = cells.get(self.peer, "not run") if self.peer else "not run"
        self.rows.append(f"| {label} | {cells.get(self.direct, '—')} | {cells.get(GATEWAY, '—')} | {peer} | "
                         f"{vs_direct} | {vs_peer if self.peer else '—'} | {target} |")

    def render(self) -> list[str]:
        head = ["| scenario | direct (emulator) | llm-gateway | litellm | gateway/direct | gateway/litellm | target |",
                "|---|---|---|---|---|---|---|"]
        return head + self.rows


def _per_target(results: Results, scenario: str, fmt: Callable[[dict[str, Any]], str]) -> dict[str, str]:
    cells = {}
    for name, r in results.get(scenario, {}).items():
        try:
            cells[name] = f"not measured: {r['error']}" if "error" in r else fmt(r)
        except (KeyError, TypeError, ZeroDivisionError) as exc:
            cells[name] = f"— ({type(exc).__name__}: {exc})"
    return cells


def _get(results: Results, scenario: str, name: str | None, *keys: str) -> Any:
    value: Any = results.get(scenario, {}).get(name or "", {})
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def throughput_rows(t: Table, results: Results) -> None:
    if "throughput" not in results:
        return
    cells = _per_target(results, "throughput", lambda r: f"{num(r['rps'])} ({r['errors']} errors)")
    gw = _get(results, "throughput", GATEWAY, "rps")
    direct, peer = (_get(results, "throughput", name, "rps") for name in (t.direct, t.peer))
    t.add("non-streamed throughput, 64 clients, upstream 0 ms (req/s)", cells, ratio(gw, direct), ratio(gw, peer),
          "≥ 3,000 req/s, ≥ 0.30× direct, ≥ 40× LiteLLM")


def latency_rows(t: Table, results: Results) -> None:
    direct = results.get("latency", {}).get(t.direct, {})
    for rate in [] if "error" in direct else direct:
        base = direct[rate]

        def added(r: dict[str, Any], rate: str = rate, base: dict[str, Any] = base) -> str:
            one = r.get(rate, {})
            if one is base:
                return f"{num(base['p50'], 1)} / {num(base['p90'], 1)} / {num(base['p99'], 1)} ms (absolute)"
            kinds = ", ".join(f"{k} × {v}" for k, v in one.get("error_kinds", {}).items())
            if not one.get("ok"):
                return f"all {one['sent']:,} failed ({kinds})"
            text = " / ".join(f"{one[p] - base[p]:+.2f}" for p in ("p50", "p90", "p99")) + " ms"
            if one.get("errors"):
                text += f"; {one['errors']:,} of {one['sent']:,} failed ({kinds}), p99 {num(one['p99'])} ms absolute"
            return text

        cells = _per_target(results, "latency", added)

        def add_p50(name: str | None, rate: str = rate, base: dict[str, Any] = base) -> float | None:
            p50 = _get(results, "latency", name, rate, "p50")
            return None if p50 is None else p50 - base["p50"]

        t.add(f"added latency p50 / p90 / p99 at {int(rate):,} req/s, upstream 50 ms (open loop)", cells, "—",
              ratio(add_p50(GATEWAY), add_p50(t.peer)) + " (p50)",
              "≤ +0.5 / — / ≤ +2 ms" if rate == "300" else "reported")


def _value(key: str, digits: int) -> Callable[[dict[str, Any]], str]:
    return lambda r: num(r.get(key), digits)


def _rss(r: dict[str, Any]) -> str:
    if not r.get("peak_rss_mb"):
        return "—"
    per_stream_kb = (r["peak_rss_mb"] - r["rss_before_mb"]) * 1000 / r["count"]
    return f"{num(r['peak_rss_mb'])} ({num(per_stream_kb, 1)} KB per stream over {num(r['rss_before_mb'])} MB idle)"


def _finished(r: dict[str, Any]) -> str:
    kinds = ", ".join(f"{kind} × {n:,}" for kind, n in r.get("error_kinds", {}).items())
    return f"{r['finished']:,} of {r['count']:,}" + (f" (not finished: {kinds})" if kinds else "")


def stream_rows(t: Table, results: Results) -> None:
    if "streams" not in results:
        return
    n = _get(results, "streams", t.direct, "count") or _get(results, "streams", GATEWAY, "count")
    rows: list[tuple[str, str, int, str]] = [
        (f"{n:,} concurrent streams, 50 tokens 20 ms apart: wall (s)", "wall_s", 2, "≤ 1.5× direct"),
        ("same: time to first token p50 (ms)", "ttft_p50_ms", 0, "—"),
        ("same: time to first token p99 (ms)", "ttft_p99_ms", 0, "≤ 1.5× direct's"),
        ("same: gateway CPU per streamed chunk (µs)", "cpu_per_chunk_us", 1, "≤ 30 µs"),
        (f"same: peak RSS at {n:,} streams (MB)", "peak_rss_mb", 0, "≤ 150 MB (≤ 50 KB per open stream)"),
    ]
    for label, key, digits, target in rows:
        cells = _per_target(results, "streams", _rss if key == "peak_rss_mb" else _value(key, digits))
        gw, direct, peer = (_get(results, "streams", name, key) for name in (GATEWAY, t.direct, t.peer))
        t.add(label, cells, ratio(gw, direct), ratio(gw, peer), target)
        if key == "wall_s":
            finished = _per_target(results, "streams", _finished)
            t.add("same: finished (200 + complete body)", finished, "—", "—", "all finish")


def concurrency_rows(t: Table, results: Results) -> None:
    if "concurrency" not in results:
        return
    cells = _per_target(results, "concurrency", lambda r: (
        f"{r['max_in_flight']:,} (wall {r['wall_s']:.2f} s; {r['completed_within']:,} of {r['count']:,} done "
        f"within {r['within_s']} s; {r['count'] - r['ok']} failed)"))
    n = _get(results, "concurrency", GATEWAY, "count")
    gw = _get(results, "concurrency", GATEWAY, "max_in_flight")
    t.add(f"upstream calls in flight, upstream 1 s, {num(n)} clients (max at the emulator)", cells,
          ratio(gw, _get(results, "concurrency", t.direct, "max_in_flight")),
          ratio(gw, _get(results, "concurrency", t.peer, "max_in_flight")), "no cap below the client count")


def loadgen_table(results: Results, names: list[str]) -> list[str]:
    """The load generator's own CPU and the target's, per scenario: was the client the bottleneck?"""
    lines = ["| scenario | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def cell(r: dict[str, Any]) -> str:
        share = r["loadgen_cpu_s"] / r["loadgen_wall_s"] if r.get("loadgen_wall_s") else float("nan")
        text = f"client {r['loadgen_cpu_s']:.1f} s CPU / {r['loadgen_wall_s']:.1f} s ({share:.0%} of a core)"
        if r.get("max_send_lag_ms", 0) >= 1:
            text += f"; sends up to {r['max_send_lag_ms']:,.0f} ms late"
        if "target_cpu_s" in r:
            text += f"; target {r['target_cpu_s'] / r['target_wall_s']:.0%} of its core"
        return text

    for scenario, per_target in results.items():
        rows = {scenario: per_target}
        if scenario == "latency":
            rates: dict[str, Any] = next((r for r in per_target.values() if "error" not in r), {})
            rows = {f"latency {rate} req/s": {n: r.get(rate, {}) for n, r in per_target.items()} for rate in rates}
        for label, by_name in rows.items():
            cells = [cell(by_name[n]) if by_name.get(n) and "loadgen_cpu_s" in by_name[n] else "—" for n in names]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def render(results: Results, names: list[str], header: list[str], notes: list[str]) -> str:
    table = Table(names)
    for rows in (throughput_rows, latency_rows, stream_rows, concurrency_rows):
        rows(table, results)
    parts = [*header, "", *table.render(), "", "Load generator and target CPU over each measured run:", "",
             *loadgen_table(results, names)]
    if notes:
        parts += ["", "Notes:", "", *(f"- {note}" for note in notes)]
    return "\n".join(parts) + "\n"
