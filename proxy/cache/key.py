"""Which chat requests may be answered from the cache, and the key they are stored under.

A key is the sha256 of a canonical form of everything that can change the answer: the team, the
deployment actually called, the route, and the request body minus the fields listed in DROPPED_FIELDS.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from proxy.errors import InvalidRequest

KEY_VERSION = 1  # bump when the canonical form changes: old entries then simply stop matching
DEFAULT_MAX_CANONICAL_BYTES = 1024 * 1024
HEADER = "x-gateway-cache"

# Fields removed before hashing, and why removing them cannot change the answer the key stands for.
DROPPED_FIELDS: dict[str, str] = {
    "stream": "streamed and non-streamed calls share an entry: replay can produce either form",
    "stream_options": "include_usage only adds the final usage chunk, which replay_chunks adds on request",
    "user": "an end-user id for the provider's abuse monitoring; the model never sees it",
    "metadata": "tags for the provider's stored-completions dashboard; not an input to generation",
    "store": "whether the provider keeps the completion for evals/distillation; not an input to generation",
    "service_tier": "latency and price tier of the upstream; the same model produces the answer",
    "safety_identifier": "the successor of `user` for abuse monitoring; the model never sees it",
    "prompt_cache_key": "a routing hint for the provider's prompt cache; affects cost, not output",
}

Mode = Literal["use", "refresh", "bypass"]


@dataclass(frozen=True, slots=True)
class CacheDecision:
    """What one call does with the cache: read and fill (use), fill only (refresh), or nothing (bypass)."""

    mode: Mode
    reason: str | None = None  # why it bypasses: for a response header, a metric label, or a log line

    @property
    def read(self) -> bool:
        return self.mode == "use"

    @property
    def write(self) -> bool:
        return self.mode != "bypass"


def canonical_body(body: dict[str, Any], *, deployment: str) -> bytes:
    """The body as hashed: dropped fields removed, `model` replaced by the deployment, keys sorted.

    The client's alias is replaced because two aliases of one deployment give the same answer, and one
    alias re-pointed to another deployment must not serve the old deployment's answers.
    """
    kept = {k: v for k, v in body.items() if k not in DROPPED_FIELDS}
    kept["model"] = deployment
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


def cache_key(*, team_id: str, deployment: str, route: str, body: dict[str, Any]) -> str:
    """sha256 hex of (version, team, deployment, route, canonical body); teams never share an entry."""
    digest = hashlib.sha256()
    # Length-prefixed parts: no choice of team or deployment name can collide with another split.
    for part in (str(KEY_VERSION), team_id, deployment, route):
        raw = part.encode()
        digest.update(len(raw).to_bytes(4, "big") + raw)
    digest.update(canonical_body(body, deployment=deployment))
    return digest.hexdigest()


def cache_decision(
    body: dict[str, Any],
    *,
    header: str | None,
    team_opt_in: bool,
    allow_sampled: bool = False,
    max_canonical_bytes: int = DEFAULT_MAX_CANONICAL_BYTES,
) -> CacheDecision:
    """Decide from the `x-gateway-cache` header (on | off | refresh; None: the team's opt-in) and the body.

    ``allow_sampled`` is True when the caller accepts a replayed sample for a request with temperature
    above 0 (header `x-gateway-cache-allow-sampled: true`, or a team setting); otherwise only an
    explicit ``temperature: 0`` is cached, since OpenAI's default temperature is 1.
    Raises InvalidRequest for a header value outside on/off/refresh.
    """
    mode = _mode_from_header(header, team_opt_in)
    if mode == "bypass":
        return CacheDecision("bypass", "disabled" if header is None else "header_off")
    reason = _uncacheable(body, allow_sampled=allow_sampled)
    if reason is None:
        reason = _too_large(body, max_canonical_bytes)  # last: the only check that serialises the body
    return CacheDecision("bypass", reason) if reason else CacheDecision(mode)


def _mode_from_header(header: str | None, team_opt_in: bool) -> Mode:
    if header is None:
        return "use" if team_opt_in else "bypass"
    value = header.strip().lower()
    if value == "on":
        return "use"
    if value == "refresh":
        return "refresh"
    if value == "off":
        return "bypass"
    raise InvalidRequest(f"The {HEADER} header must be one of on, off, refresh; got {header[:40]!r}.",
                         param=HEADER, code="invalid_cache_header")


def _uncacheable(body: dict[str, Any], *, allow_sampled: bool) -> str | None:
    n = body.get("n")
    if n is not None and n != 1:
        return "n_above_1"  # entries and replay hold one choice
    if body.get("logprobs") or body.get("top_logprobs"):
        return "logprobs"  # per-token probabilities describe one sampling, not a reusable answer
    temperature = body.get("temperature")
    deterministic = type(temperature) in (int, float) and temperature == 0  # bool is not a temperature
    if not deterministic and not allow_sampled:
        return "sampled"
    return None


def _too_large(body: dict[str, Any], limit: int) -> str | None:
    try:
        size = len(canonical_body(body, deployment=""))
    except orjson.JSONEncodeError:
        return "unencodable"  # e.g. an integer beyond 64 bits: cache_key could not hash it either
    return "too_large" if size > limit else None
