"""cache_key isolation and canonical form; cache_decision's header modes and determinism rules."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.cache.key import DROPPED_FIELDS, CacheDecision, cache_decision, cache_key
from proxy.errors import InvalidRequest

BODY: dict[str, Any] = {"model": "fast", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]}


def key(body: dict[str, Any] = BODY, **overrides: str) -> str:
    args = {"team_id": "t1", "deployment": "bedrock/claude-haiku", "route": "/v1/chat/completions", **overrides}
    return cache_key(body=body, **args)


def test_key_is_sha256_hex_and_stable() -> None:
    assert key() == key() and len(key()) == 64 and int(key(), 16) >= 0


@pytest.mark.parametrize("part", ["team_id", "deployment", "route"])
def test_each_scope_part_isolates(part: str) -> None:
    assert key(**{part: "other"}) != key()


def test_parts_cannot_collide_by_moving_a_separator() -> None:
    assert key(team_id="a", deployment="bc") != key(team_id="ab", deployment="c")


def test_model_alias_is_replaced_by_the_deployment() -> None:
    assert key({**BODY, "model": "other-alias"}) == key()


def test_key_order_does_not_matter() -> None:
    assert key(dict(reversed(list(BODY.items())))) == key()


@pytest.mark.parametrize("field", sorted(DROPPED_FIELDS))
def test_dropped_fields_do_not_change_the_key(field: str) -> None:
    assert key({**BODY, field: {"anything": 1}}) == key()


def test_stream_and_non_stream_share_a_key() -> None:
    assert key({**BODY, "stream": True, "stream_options": {"include_usage": True}}) == key({**BODY, "stream": False})


@pytest.mark.parametrize("change", [{"temperature": 0.5}, {"max_tokens": 5}, {"seed": 1}, {"tools": []},
                                    {"messages": [{"role": "user", "content": "ho"}]}])
def test_fields_that_change_the_answer_change_the_key(change: dict[str, Any]) -> None:
    assert key({**BODY, **change}) != key()


def test_key_does_not_mutate_the_body() -> None:
    body = {**BODY, "stream": True}
    key(body)
    assert body == {**BODY, "stream": True}


def decide(body: dict[str, Any] = BODY, header: str | None = "on", **kw: Any) -> CacheDecision:
    return cache_decision(body, header=header, team_opt_in=kw.pop("team_opt_in", False), **kw)


@pytest.mark.parametrize(("header", "team", "mode"), [
    ("on", False, "use"), ("ON ", False, "use"), ("refresh", False, "refresh"), ("off", True, "bypass"),
    (None, True, "use"), (None, False, "bypass"),
])
def test_header_modes(header: str | None, team: bool, mode: str) -> None:
    assert decide(header=header, team_opt_in=team).mode == mode


def test_read_write_flags() -> None:
    assert (decide().read, decide().write) == (True, True)
    assert (decide(header="refresh").read, decide(header="refresh").write) == (False, True)
    assert (decide(header="off").read, decide(header="off").write) == (False, False)


def test_bad_header_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as info:
        decide(header="yes")
    assert info.value.param == "x-gateway-cache"


@pytest.mark.parametrize(("temperature", "cached"), [(0, True), (0.0, True), (0.2, False), (1, False),
                                                     (None, False), (False, False)])
def test_only_explicit_temperature_zero_is_deterministic(temperature: Any, cached: bool) -> None:
    body = {k: v for k, v in BODY.items() if k != "temperature"}
    if temperature is not None:
        body["temperature"] = temperature
    decision = decide(body)
    assert decision.mode == ("use" if cached else "bypass")
    assert decision.reason == (None if cached else "sampled")


def test_absent_temperature_is_sampled_even_for_refresh() -> None:
    assert decide({"model": "m", "messages": []}, header="refresh").reason == "sampled"


def test_allow_sampled_caches_a_sampled_request() -> None:
    assert decide({**BODY, "temperature": 0.7}, allow_sampled=True).mode == "use"


@pytest.mark.parametrize(("change", "reason"), [({"n": 2}, "n_above_1"), ({"logprobs": True}, "logprobs"),
                                                ({"top_logprobs": 3}, "logprobs")])
def test_never_cached_even_when_sampling_is_allowed(change: dict[str, Any], reason: str) -> None:
    assert decide({**BODY, **change}, allow_sampled=True) == CacheDecision("bypass", reason)


def test_n_1_and_tools_are_cacheable() -> None:
    assert decide({**BODY, "n": 1, "tools": [{"type": "function", "function": {"name": "f"}}]}).mode == "use"


def test_large_bodies_bypass() -> None:
    big = {**BODY, "messages": [{"role": "user", "content": "x" * 2000}]}
    assert decide(big, max_canonical_bytes=1000) == CacheDecision("bypass", "too_large")
    assert decide(big, max_canonical_bytes=10_000).mode == "use"


def test_unencodable_body_bypasses() -> None:
    assert decide({**BODY, "seed": 2**70}).reason == "unencodable"


def test_bypass_reasons_for_disabled() -> None:
    assert decide(header=None).reason == "disabled" and decide(header="off").reason == "header_off"
