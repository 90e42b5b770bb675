"""Settings: one frozen dataclass built from the environment.

This is the only module that reads ``os.environ``. Every field names its variable and default side by
side; ``.env.example`` lists exactly these variables (a unit test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any


class ConfigError(ValueError):
    """A configuration variable is missing or malformed."""


def _env(name: str, default: Any, cast: Callable[[str], Any] = str, *, doc: str = "") -> Any:
    """Declare a setting: its environment variable, default and parser live together."""
    return field(default=default, metadata={"env": name, "cast": cast, "doc": doc})


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean, got {raw!r}")


def _optional(raw: str) -> str | None:
    return raw or None


def _price_pair(raw: str) -> tuple[Decimal, Decimal] | None:
    if not raw.strip():
        return None
    try:
        values = tuple(Decimal(part.strip()) for part in raw.split(","))
    except InvalidOperation:
        raise ValueError(f"expected two prices 'input,output', got {raw!r}") from None
    if len(values) != 2 or not all(v.is_finite() and v >= 0 for v in values):
        raise ValueError(f"expected two non-negative prices 'input,output', got {raw!r}")
    return values[0], values[1]


def _str_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _float_list(raw: str) -> tuple[float, ...]:
    return tuple(float(part) for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    # --- server -------------------------------------------------------------------------------
    host: str = _env("LLM_GATEWAY_HOST", "127.0.0.1", doc="address `llm-gateway serve` binds")
    port: int = _env("LLM_GATEWAY_PORT", 8080, int, doc="port `llm-gateway serve` binds")
    workers: int = _env("WEB_CONCURRENCY", 1, int, doc="uvicorn worker processes")
    log_level: str = _env(
        "LLM_GATEWAY_LOG_LEVEL", "info", doc="log level of the gateway and uvicorn: debug, info, warning, error"
    )
    max_body_bytes: int = _env(
        "LLM_GATEWAY_MAX_BODY_BYTES", 20 * 1024 * 1024, int, doc="largest request body in bytes; larger bodies get 413"
    )
    drop_unsupported_params: bool = _env(
        "LLM_GATEWAY_DROP_UNSUPPORTED_PARAMS", False, _bool,
        doc="drop parameters Bedrock cannot honour (n>1, logprobs, ...) instead of answering 400",
    )
    model_catalog_path: str | None = _env(
        "LLM_GATEWAY_MODEL_CATALOG", None, _optional, doc="TOML model catalog; the packaged one if unset"
    )
    allow_raw_model_ids: bool = _env(
        "LLM_GATEWAY_ALLOW_RAW_MODEL_IDS", True, _bool, doc="accept Bedrock model ids not in the catalog"
    )

    # --- HTTP server (per process) -------------------------------------------------------------
    http_max_header_bytes: int = _env(
        "LLM_GATEWAY_HTTP_MAX_HEADER_BYTES", 64 * 1024, int,
        doc="largest request line + headers in bytes; larger gets 431 and the connection is closed",
    )
    http_header_timeout_s: float = _env(
        "LLM_GATEWAY_HTTP_HEADER_TIMEOUT_S", 10.0, float,
        doc="seconds to receive a request's line and headers, from its first byte (the connection's start for "
            "the first request); past it 408 and close",
    )
    http_body_timeout_s: float = _env(
        "LLM_GATEWAY_HTTP_BODY_TIMEOUT_S", 30.0, float,
        doc="max seconds of silence between request body bytes; past it 408 (if no response started) and close",
    )
    http_body_deadline_s: float = _env(
        "LLM_GATEWAY_HTTP_BODY_DEADLINE_S", 120.0, float,
        doc="max seconds to receive a whole request body, from the end of its headers, however steadily it "
            "trickles in (a byte every few seconds would otherwise hold a connection forever); past it 408",
    )
    http_idle_timeout_s: float = _env(
        "LLM_GATEWAY_HTTP_IDLE_TIMEOUT_S", 10.0, float,
        doc="seconds a new connection may stay open without starting a request; then it is closed",
    )
    http_keepalive_timeout_s: float = _env(
        "LLM_GATEWAY_HTTP_KEEPALIVE_TIMEOUT_S", 5.0, float,
        doc="seconds an idle keep-alive connection stays open between requests",
    )
    http_max_connections: int = _env(
        "LLM_GATEWAY_HTTP_MAX_CONNECTIONS", 2000, int,
        doc="open connections per process; at the cap a new one closes the oldest idle (or stalled-header) "
            "connection, else gets 503 server_overloaded",
    )
    http_max_in_flight: int = _env(
        "LLM_GATEWAY_HTTP_MAX_IN_FLIGHT", 1000, int,
        doc="requests being handled at once per process; beyond it 503 server_overloaded with retry-after: 1",
    )

    # --- upstream: AWS Bedrock Runtime ----------------------------------------------------------
    aws_region: str = _env(
        "AWS_REGION", "us-east-1",
        doc="region of the Bedrock calls and DynamoDB tables; calls are priced at this region's catalog prices",
    )
    bedrock_endpoint_url: str | None = _env(
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", None, _optional,
        doc="another Bedrock Runtime endpoint: a VPC endpoint, or the bundled emulator (http://127.0.0.1:8089)",
    )
    upstream_connect_timeout_s: float = _env(
        "LLM_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_S", 10.0, float, doc="seconds allowed for the TCP/TLS connect to Bedrock"
    )
    upstream_read_timeout_s: float = _env(
        "LLM_GATEWAY_UPSTREAM_READ_TIMEOUT_S", 300.0, float, doc="max seconds of silence between upstream bytes"
    )
    upstream_max_connections: int = _env(
        "LLM_GATEWAY_UPSTREAM_MAX_CONNECTIONS", 1000, int,
        doc="pooled connections to Bedrock per process (= concurrent Bedrock calls)",
    )
    upstream_retries: int = _env(
        "LLM_GATEWAY_UPSTREAM_RETRIES", 0, int,
        doc="extra attempts on the same deployment after a throttle, 5xx or timeout, with jittered exponential "
            "back-off (the upstream's retry-after honoured); 0: none, since the openai SDK retries too",
    )
    fallback_deadline_s: float = _env(
        "LLM_GATEWAY_FALLBACK_DEADLINE_S", 30.0, float,
        doc="no retry or fallback to another deployment starts later than this many seconds into a request",
    )
    breaker_failures: int = _env(
        "LLM_GATEWAY_BREAKER_FAILURES", 5, int,
        doc="consecutive failures that open a deployment's circuit breaker (it is then tried last)",
    )
    breaker_open_s: float = _env(
        "LLM_GATEWAY_BREAKER_OPEN_S", 30.0, float,
        doc="seconds an open circuit breaker waits before letting one probe call through",
    )
    cache_ttl_s: float = _env(
        "LLM_GATEWAY_CACHE_TTL_S", 3600.0, float,
        doc="seconds a cached response is served (x-gateway-cache: on, or the teams below); 0 turns the cache off",
    )
    cache_teams: tuple[str, ...] = _env(
        "LLM_GATEWAY_CACHE_TEAMS", (), _str_list,
        doc="comma-separated team ids whose deterministic calls (temperature 0) use the cache without the header",
    )
    cache_sampled_teams: tuple[str, ...] = _env(
        "LLM_GATEWAY_CACHE_SAMPLED_TEAMS", (), _str_list,
        doc="comma-separated team ids that accept a cached answer for temperature > 0 (per request: "
            "x-gateway-cache-allow-sampled: true)",
    )
    cache_max_entries: int = _env(
        "LLM_GATEWAY_CACHE_MAX_ENTRIES", 10000, int,
        doc="entries of the in-process cache used without REDIS_URL (with it, Redis holds the cache)",
    )
    stream_keepalive_s: float = _env(
        "LLM_GATEWAY_STREAM_KEEPALIVE_S", 15.0, float,
        doc="seconds of upstream silence after which a stream gets an SSE keep-alive comment; 0: never",
    )

    # --- keys, teams and usage storage -------------------------------------------------------
    store: str = _env("LLM_GATEWAY_STORE", "sqlite", doc="sqlite (embedded default) or dynamodb")
    sqlite_path: str = _env(
        "LLM_GATEWAY_SQLITE_PATH", "llm-gateway.db", doc="SQLite file holding teams, keys and usage (store sqlite)"
    )
    dynamodb_table_prefix: str = _env(
        "LLM_GATEWAY_DYNAMODB_TABLE_PREFIX", "llm-gateway-",
        doc="prefix of the DynamoDB table names (teams, keys, usage, usage-daily, budget-alerts)",
    )
    dynamodb_endpoint_url: str | None = _env(
        "AWS_ENDPOINT_URL_DYNAMODB", None, _optional,
        doc="another DynamoDB endpoint, e.g. a local DynamoDB-compatible server",
    )
    admin_key: str | None = _env(
        "LLM_GATEWAY_ADMIN_KEY", None, _optional,
        doc="enables /admin/*; 32+ random characters (a shorter or documented one stops the gateway at startup)",
    )
    key_pepper: str | None = _env(
        "LLM_GATEWAY_KEY_PEPPER", None, _optional,
        doc="HMAC key for key hashes; unset: a public default (logged as a warning at startup)",
    )
    admin_failures_per_minute: int = _env(
        "LLM_GATEWAY_ADMIN_FAILURES_PER_MINUTE", 10, int,
        doc="wrong admin keys per client address per minute before that address is refused (429) for the minute",
    )
    key_failures_per_minute: int = _env(
        "LLM_GATEWAY_KEY_FAILURES_PER_MINUTE", 100, int,
        doc="unknown well-formed keys per client address per minute before its uncached key lookups get 429",
    )
    auth_cache_ttl_s: float = _env(
        "LLM_GATEWAY_AUTH_CACHE_TTL_S", 5.0, float,
        doc="seconds a valid key stays cached when Redis is not configured (with Redis: 60, dropped on every change)",
    )
    auth_negative_cache_ttl_s: float = _env(
        "LLM_GATEWAY_AUTH_NEGATIVE_CACHE_TTL_S", 5.0, float,
        doc="seconds a well-formed but unknown key is remembered as unknown, without another store read",
    )
    demo_key: str | None = _env(
        "LLM_GATEWAY_DEMO_KEY", None, _optional,
        doc="a secret the gateway makes sure, at startup, is a key of team `demo` (set by `llm-gateway demo`)",
    )

    # --- rate limits and budgets -----------------------------------------------------------------
    redis_url: str | None = _env(
        "REDIS_URL", None, _optional,
        doc="Redis shared by all replicas for limits, budgets and auth invalidation; unset: in-process limiter",
    )
    redis_cluster: bool = _env(
        "LLM_GATEWAY_REDIS_CLUSTER", False, _bool,
        doc="REDIS_URL is one node of a Redis Cluster (ElastiCache cluster mode enabled): the client "
            "discovers the others and sends each team's keys to the master of its slot",
    )
    redis_timeout_ms: int = _env(
        "LLM_GATEWAY_REDIS_TIMEOUT_MS", 1000, int,
        doc="time limit of a Redis round trip (not the wait for a free connection); past it, a 503 if Redis "
            "answered other calls meanwhile (this process is behind), else the failure policy applies",
    )
    ratelimit_failure_policy: str = _env(
        "LLM_GATEWAY_RATELIMIT_FAILURE_POLICY", "open", doc="open: in-process fallback; closed: 503"
    )
    unpriced_model_price: tuple[Decimal, Decimal] | None = _env(
        "LLM_GATEWAY_UNPRICED_MODEL_PRICE", None, _price_pair,
        doc="USD per 1K input,output tokens (e.g. 0.015,0.075) for models the catalog does not price; unset: "
            "a team or key with a budget gets 403 model_not_priced for them",
    )
    default_rpm: int = _env(
        "LLM_GATEWAY_DEFAULT_RPM", 60, int, doc="requests per minute of a new team whose limits leave rpm unset"
    )
    default_tpm: int = _env(
        "LLM_GATEWAY_DEFAULT_TPM", 1_000_000, int, doc="tokens per minute of a new team whose limits leave tpm unset"
    )

    # --- usage recording -------------------------------------------------------------------------
    usage_flush_interval_s: float = _env(
        "LLM_GATEWAY_USAGE_FLUSH_INTERVAL_S", 1.0, float,
        doc="seconds between background writes of buffered usage records to the store",
    )
    usage_buffer_max: int = _env(
        "LLM_GATEWAY_USAGE_BUFFER_MAX", 10_000, int,
        doc="buffered usage records that trigger a flush before the interval (at most the 500-record batch)",
    )
    usage_spool_dir: str = _env(
        "LLM_GATEWAY_USAGE_SPOOL_DIR", "var/spool",
        doc="directory of the per-process usage spool files, written while the store is unavailable",
    )
    usage_retention_days: int = _env(
        "LLM_GATEWAY_USAGE_RETENTION_DAYS", 90, int,
        doc="days raw usage records are kept (DynamoDB TTL, SQLite purge at startup); daily totals are kept",
    )
    budget_alert_thresholds: tuple[float, ...] = _env(
        "LLM_GATEWAY_BUDGET_ALERT_THRESHOLDS", (50.0, 80.0, 100.0), _float_list,
        doc="comma-separated percentages of a monthly budget; crossing each fires one alert per month",
    )
    budget_alert_webhook_url: str | None = _env(
        "LLM_GATEWAY_BUDGET_ALERT_WEBHOOK_URL", None, _optional,
        doc="URL budget alerts are POSTed to; unset: alerts are only logged",
    )
    budget_alert_webhook_secret: str | None = _env(
        "LLM_GATEWAY_BUDGET_ALERT_WEBHOOK_SECRET", None, _optional,
        doc="HMAC-SHA256 key of the x-llm-gateway-signature header on webhook deliveries",
    )
    budget_alert_webhook_allow_private: bool = _env(
        "LLM_GATEWAY_BUDGET_ALERT_WEBHOOK_ALLOW_PRIVATE", False, _bool,
        doc="let the webhook reach loopback, private, link-local and metadata addresses (off: refused)",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); keyword overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f.metadata["env"]
            if name in environ:
                try:
                    values[f.name] = f.metadata["cast"](environ[name])
                except ValueError as exc:
                    raise ConfigError(f"Config '{name}' has an invalid value: {exc}") from None
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.store not in {"sqlite", "dynamodb"}:
            raise ConfigError(f"Config 'LLM_GATEWAY_STORE' must be sqlite or dynamodb, not {self.store!r}")
        if self.ratelimit_failure_policy not in {"open", "closed"}:
            raise ConfigError("Config 'LLM_GATEWAY_RATELIMIT_FAILURE_POLICY' must be open or closed")
        http_limits = {
            "LLM_GATEWAY_HTTP_MAX_HEADER_BYTES": self.http_max_header_bytes,
            "LLM_GATEWAY_HTTP_HEADER_TIMEOUT_S": self.http_header_timeout_s,
            "LLM_GATEWAY_HTTP_BODY_TIMEOUT_S": self.http_body_timeout_s,
            "LLM_GATEWAY_HTTP_BODY_DEADLINE_S": self.http_body_deadline_s,
            "LLM_GATEWAY_HTTP_IDLE_TIMEOUT_S": self.http_idle_timeout_s,
            "LLM_GATEWAY_HTTP_KEEPALIVE_TIMEOUT_S": self.http_keepalive_timeout_s,
            "LLM_GATEWAY_HTTP_MAX_CONNECTIONS": self.http_max_connections,
            "LLM_GATEWAY_HTTP_MAX_IN_FLIGHT": self.http_max_in_flight,
        }
        if self.upstream_retries < 0 or self.breaker_failures < 1:
            raise ConfigError("Config 'LLM_GATEWAY_UPSTREAM_RETRIES' must be >= 0 and "
                              "'LLM_GATEWAY_BREAKER_FAILURES' >= 1")
        for name, value in http_limits.items():
            if not value > 0 or value == float("inf"):
                raise ConfigError(f"Config '{name}' must be a positive, finite number, not {value!r}")

    @staticmethod
    def env_names() -> list[str]:
        return [f.metadata["env"] for f in dataclasses.fields(Settings)]


def provider_secret(variable: str) -> str | None:
    """A provider's key or token, from the variable the catalog names (proxy/catalog/providers.py)."""
    return os.environ.get(variable) or None


def environ_snapshot() -> dict[str, str]:
    """A copy of the process environment, for code that must hand it to a child process."""
    return dict(os.environ)
