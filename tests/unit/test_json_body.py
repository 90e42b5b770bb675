"""proxy/json_body.py: bad JSON and deep nesting are clear 400s, never a RecursionError or a 500."""

from __future__ import annotations

import pytest

from proxy.errors import InvalidRequest
from proxy.json_body import parse_json
from translators.json_depth import MAX_JSON_DEPTH, deep_path, depth_exceeds


def nested(levels: int, opener: bytes = b'{"a":', closer: bytes = b"}") -> bytes:
    return opener * levels + b"1" + closer * levels


def test_the_limit_is_exact_for_objects_and_arrays() -> None:
    assert parse_json(nested(MAX_JSON_DEPTH))
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    for raw in (nested(MAX_JSON_DEPTH + 1), b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)):
        with pytest.raises(InvalidRequest) as err:
            parse_json(raw)
        assert err.value.code == "json_too_deep" and f"{MAX_JSON_DEPTH} levels" in err.value.message


@pytest.mark.parametrize("levels", [255, 1_000, 1_024, 5_000, 100_000])
def test_very_deep_json_is_a_400(levels: int) -> None:
    with pytest.raises(InvalidRequest):
        parse_json(nested(levels))


def test_the_error_names_where_the_nesting_is() -> None:
    raw = b'{"model": "m", "tools": [{"function": {"parameters": ' + nested(150) + b"}}]}"
    with pytest.raises(InvalidRequest) as err:
        parse_json(raw)
    assert err.value.param is not None and err.value.param.startswith("tools[0].function.parameters.a.a")


def test_many_shallow_containers_are_not_deep() -> None:
    wide = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]} for _ in range(5_000)]}
    assert not depth_exceeds(wide)


def test_deep_path_of_mixed_containers() -> None:
    value = {"a": [1, {"b": [[[]]]}]}
    assert depth_exceeds(value, 4) and not depth_exceeds(value, 6)
    assert deep_path(value, 4) == "a[1].b[0]"


def test_bad_json_and_admin_bodies_share_the_envelope() -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_json(b'{"model": ')
    assert "could not parse the JSON body" in err.value.message
