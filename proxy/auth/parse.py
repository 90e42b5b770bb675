"""Validation of team and key fields from JSON bodies (admin API) and CLI flags: 400 with `param`.

Each parser returns only the fields that were present, already converted to the record's types.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from proxy.errors import InvalidRequest

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # fullmatch: `$` would also accept a final newline
LIMIT_FIELDS = ("rpm", "tpm", "max_concurrency")
MAX_TEXT = 200


def iso(moment: datetime) -> str:
    """UTC, seconds, a four-digit year (strftime's %Y does not zero-pad years before 1000 on Linux)."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


# Bounds that keep every stored value representable everywhere it goes: JSON floats, Redis/Lua numbers
# (doubles, exact to 2**53) in nano-dollars, and datetime arithmetic (hardening #5, Low).
# $1bn a month. The limiter counts nano-USD in Lua doubles: exact up to 2**53 nanos (~$9M), then within
# 128 nanos ($1.3e-7) at this bound, so a budget can never overflow or lose a cent.
MAX_BUDGET_USD = Decimal(10) ** 9
MAX_LIMIT = 10**12
MAX_DAYS = 36_500  # 100 years
MAX_GRACE_SECONDS = 10 * 366 * 24 * 3600
MIN_EXPIRY_YEAR, MAX_EXPIRY_YEAR = 1970, 9998  # stored timestamps stay parseable and arithmetic never overflows


def money_json(value: Decimal | None) -> float | str | None:
    """A stored amount as JSON; one written before the bounds existed is shown as a string, never a 500."""
    if value is None:
        return None
    as_float = float(value)
    return as_float if math.isfinite(as_float) and value.is_finite() else str(value)


def _bad(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid '{param}': {why}.", param=param)


def team_id(value: Any, param: str = "team_id") -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise _bad(param, "expected 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
    return value


def text(value: Any, param: str, *, required: bool = False) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value.strip()):
        raise _bad(
            param, f"expected a {'non-empty ' if required else ''}string of at most {MAX_TEXT} characters"
        )
    return value


def optional_text(value: Any, param: str) -> str | None:
    return None if value is None else text(value, param)


def limits(value: Any, param: str = "limits") -> dict[str, int | None]:
    if not isinstance(value, Mapping):
        raise _bad(param, "expected an object with rpm, tpm and/or max_concurrency")
    out: dict[str, int | None] = {}
    for name, raw in value.items():
        if name not in LIMIT_FIELDS:
            raise _bad(f"{param}.{name}", "unknown limit")
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_LIMIT):
            raise _bad(f"{param}.{name}", f"expected a positive integer up to {MAX_LIMIT:.0e}, or null for no limit")
        out[name] = raw
    return out


def money(value: Any, param: str = "monthly_budget_usd") -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(param, "expected a number of US dollars, or null")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _bad(param, "expected a number of US dollars, or null") from None
    if not amount.is_finite() or amount < 0:
        raise _bad(param, "expected a non-negative number")
    if amount > MAX_BUDGET_USD:
        raise _bad(param, f"expected at most {MAX_BUDGET_USD:,} US dollars")
    if amount != amount.quantize(Decimal("1e-9")):
        raise _bad(param, "expected at most 9 decimals (the gateway counts nano-dollars)")
    return amount


def models(value: Any, param: str = "allowed_models") -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) and 0 < len(m) <= MAX_TEXT for m in value):
        raise _bad(param, "expected a list of model names, or null for every model")
    return frozenset(value)


def tags(value: Any, param: str = "tags") -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= MAX_TEXT and len(v) <= MAX_TEXT
        for k, v in value.items()
    ):
        raise _bad(param, "expected an object of string values")
    return dict(value)


def expires_at(value: Any, param: str = "expires_at") -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise _bad(param, "expected an ISO 8601 timestamp such as 2030-01-31T00:00:00Z")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last representable moment in UTC
        utc = None
    if utc is None or not MIN_EXPIRY_YEAR <= utc.year <= MAX_EXPIRY_YEAR:
        raise _bad(param, f"expected a moment between the years {MIN_EXPIRY_YEAR} and {MAX_EXPIRY_YEAR}")
    return iso(utc)


def expires_in_days(value: Any, param: str = "expires_in_days") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_DAYS:
        raise _bad(param, f"expected a positive number of days, at most {MAX_DAYS}")
    return iso(datetime.now(UTC) + timedelta(days=value))


Parser = Callable[[Any, str], Any]
TEAM_FIELDS: dict[str, Parser] = {
    "team_id": team_id,
    "team_name": lambda v, p: text(v, p, required=True),
    "cost_center": optional_text,
    "limits": limits,
    "monthly_budget_usd": money,
    "allowed_models": models,
    "tags": tags,
}
KEY_FIELDS: dict[str, Parser] = {
    "team_id": team_id,
    "name": text,
    "expires_at": expires_at,
    "limits": limits,
    "monthly_budget_usd": money,
    "allowed_models": models,
}


def _parse(body: Any, fields: Mapping[str, Parser], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidRequest("Expected a JSON object.")
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name not in fields:
            raise _bad(name, "unknown or read-only field")
        out[name] = fields[name](value, name)
    for name in required:
        if name not in out:
            raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name)
    return out


def team_create(body: Any) -> dict[str, Any]:
    return _parse(body, TEAM_FIELDS, ("team_id", "team_name"))


def team_changes(body: Any) -> dict[str, Any]:
    return _parse(body, {k: v for k, v in TEAM_FIELDS.items() if k != "team_id"}, ())


def key_create(body: Any) -> dict[str, Any]:
    body = dict(body) if isinstance(body, Mapping) else body
    days = body.pop("expires_in_days", None) if isinstance(body, dict) else None
    fields = _parse(body, KEY_FIELDS, ("team_id",))
    if days is not None:
        if fields.get("expires_at") is not None:
            raise _bad("expires_in_days", "give expires_at or expires_in_days, not both")
        fields["expires_at"] = expires_in_days(days)
    return fields


def key_changes(body: Any) -> dict[str, Any]:
    return _parse(body, {k: v for k, v in KEY_FIELDS.items() if k != "team_id"}, ())
