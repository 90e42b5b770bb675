"""The composition root: every long-lived object one gateway process holds, built and wired here.

Factories live here (not beside what they build), so stores, limiters and providers never import each
other or the settings they do not need, and the import graph has no cycles (docs/ARCHITECTURE.md).
Built in the app lifespan (proxy/app.py); reached as ``request.app.state.services``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from proxy import http_stats
from proxy.auth.admin_key import AdminGuard, weak_admin_key
from proxy.auth.secrets import KeyHasher
from proxy.catalog.catalog import ModelCatalog, Price
from proxy.catalog.providers import ProviderConfig
from proxy.observability.metrics import Metrics, series
from proxy.pipeline.books import Books
from proxy.pipeline.caching import CachePolicy
from proxy.pipeline.chat import ChatPipeline
from proxy.pipeline.embeddings import EmbeddingsPipeline
from proxy.pipeline.messages import MessagesPipeline
from proxy.pipeline.passthrough import PassthroughPipeline
from proxy.pipeline.routing import STATE_VALUES, CircuitBreakers, RetryPolicy, Router
from proxy.providers.base import Provider
from proxy.settings import ConfigError, Settings

if TYPE_CHECKING:
    import redis.asyncio

    from proxy.auth.authenticator import Authenticator
    from proxy.auth.store.base import KeyStore
    from proxy.limits.local import BudgetSeed, Clock
    from proxy.limits.redis import Limiter
    from proxy.usage.alerts import BudgetAlerter
    from proxy.usage.recorder import UsageRecorder
    from proxy.usage.store.base import UsageStore

log = logging.getLogger("llm_gateway.catalog")

READY_TIMEOUT_S = 2.0


@dataclass
class Services:
    settings: Settings
    catalog: ModelCatalog
    providers: Mapping[str, Provider]  # catalog entries name theirs (ModelEntry.provider)
    keystore: KeyStore
    auth: Authenticator
    limiter: Limiter
    usage: UsageRecorder
    usage_store: UsageStore
    redis: Any | None = None  # redis.asyncio.Redis when REDIS_URL is set
    alerter: BudgetAlerter | None = None
    metrics: Metrics = field(default_factory=Metrics)
    cache: CachePolicy | None = None  # the response cache (proxy/pipeline/caching.py); None: off
    router: Router = field(init=False)
    admin_guard: AdminGuard = field(init=False)
    chat: ChatPipeline = field(init=False)
    messages: MessagesPipeline = field(init=False)
    embeddings: EmbeddingsPipeline = field(init=False)
    passthrough: PassthroughPipeline = field(init=False)

    def __post_init__(self) -> None:
        self.router = Router(
            CircuitBreakers(failures=self.settings.breaker_failures, open_s=self.settings.breaker_open_s),
            RetryPolicy(retries=self.settings.upstream_retries, deadline_s=self.settings.fallback_deadline_s),
        )
        self.admin_guard = AdminGuard(self.settings.admin_key,
                                      failures_per_minute=self.settings.admin_failures_per_minute)
        shared: dict[str, Any] = {
            "providers": self.providers, "limiter": self.limiter, "books": Books(self.metrics, self.usage),
            "keepalive_s": self.settings.stream_keepalive_s, "unpriced_price": _unpriced_price(self.settings),
            "router": self.router,
        }
        self.chat = ChatPipeline(drop_unsupported=self.settings.drop_unsupported_params, cache=self.cache, **shared)
        self.messages = MessagesPipeline(**shared)
        self.embeddings = EmbeddingsPipeline(**shared)
        bedrock = self.providers.get("bedrock")
        self.passthrough = PassthroughPipeline(client=getattr(bedrock, "client", None), **shared)
        self.metrics.collect(self._subsystem_series)

    async def readiness(self) -> dict[str, str]:
        """Each dependency: "ok" or why not (safe to show: no URL, key or message from a store)."""
        period = time.strftime("%Y-%m", time.gmtime())

        async def probe(name: str, check: Awaitable[object]) -> tuple[str, str]:
            try:
                await asyncio.wait_for(check, READY_TIMEOUT_S)
            except Exception as exc:
                return name, f"failing ({type(exc).__name__})"
            return name, "ok"

        checks = [probe("key_store", self.keystore.get_team("__readiness__")),
                  probe("usage_store", self.usage_store.key_month_spend("__readiness__", "__readiness__", period))]
        if self.redis is not None:
            checks.append(probe("redis", self.redis.ping()))
        results = dict(await asyncio.gather(*checks))
        for name, provider in self.providers.items():
            problem = provider.ready()
            results[f"provider:{name}"] = "ok" if problem is None else problem
        return results

    def _subsystem_series(self) -> list[str]:
        out = series("llm_gateway_catalog_unverified_prices", "gauge",
                     "Priced models billed in AWS_REGION at the base price, for want of a regional override.",
                     [({"region": self.settings.aws_region or ""}, len(self.catalog.unverified_prices()))])
        out += series("llm_gateway_usage_records_total", "counter", "Usage recorder counters.",
                      [({"event": k}, v) for k, v in asdict(self.usage.stats).items()])
        out += series("llm_gateway_usage_pending", "gauge", "Usage records not yet in the store.",
                      [({}, self.usage.pending)])
        positive, negative = self.auth.cache_sizes
        out += series("llm_gateway_auth_cache_entries", "gauge", "Cached key lookups.",
                      [({"kind": "positive"}, positive), ({"kind": "negative"}, negative)])
        out += series("llm_gateway_ratelimit_fallback_total", "counter",
                      "Admissions answered in-process while Redis was unavailable.",
                      [({}, getattr(self.limiter, "fallback_count", 0))])
        if self.cache is not None:
            stats = self.cache.store.stats
            out += series("llm_gateway_cache_events_total", "counter",
                          "Response cache lookups and writes (hits, misses, sets, errors, evictions).",
                          [({"event": name}, getattr(stats, name))
                           for name in ("hits", "misses", "sets", "errors", "evictions")])
            out += series("llm_gateway_cache_saved_usd_total", "counter",
                          "What the calls answered from the cache would have cost upstream.",
                          [({}, float(self.cache.saved_usd))])
        out += series("llm_gateway_http_rejections_total", "counter",
                      "Connections the HTTP server answered or closed itself, by reason (408 request_timeout, 431, "
                      "503 server_overloaded, 400 invalid_request, evicted at the cap, idle_closed).",
                      [({"reason": reason}, n) for reason, n in sorted(http_stats.REJECTIONS.items())])
        out += series("llm_gateway_http_connections", "gauge", "Open client connections in this process.",
                      [({}, http_stats.OPEN["connections"])])
        breakers = self.router.breakers.breakers
        out += series("llm_gateway_deployment_circuit_state", "gauge",
                      "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open.",
                      [({"deployment": label, "state": b.state}, STATE_VALUES[b.state])
                       for label, b in sorted(breakers.items())])
        out += series("llm_gateway_deployment_circuit_opened_total", "counter",
                      "Times a deployment's circuit breaker opened.",
                      [({"deployment": label}, b.opened_total) for label, b in sorted(breakers.items())])
        out += series("llm_gateway_deployment_attempts_total", "counter",
                      "Upstream attempts per deployment and outcome (ok, failed, request_error).",
                      [({"deployment": label, "outcome": outcome}, n)
                       for (label, outcome), n in sorted(self.router.attempts.items())])
        out += series("llm_gateway_ratelimit_overload_total", "counter",
                      "Admissions refused with 503 because this process, not Redis, was behind.",
                      [({}, getattr(self.limiter, "overload_count", 0))])
        return out


# --- factories ------------------------------------------------------------------------------------
def _unpriced_price(settings: Settings) -> Price | None:
    pair = settings.unpriced_model_price
    return None if pair is None else Price(input=pair[0], output=pair[1])



def open_keystore(settings: Settings) -> KeyStore:
    """The store LLM_GATEWAY_STORE selects; no I/O happens until the first call."""
    if settings.store == "dynamodb":
        from proxy.auth.store.dynamodb import DynamoKeyStore

        return DynamoKeyStore(settings)
    from proxy.auth.store.sqlite import SqliteKeyStore

    return SqliteKeyStore(settings.sqlite_path)


def open_usage_store(settings: Settings) -> UsageStore:
    """The configured store (not started). Imports lazily so SQLite users never load boto3."""
    if settings.store == "dynamodb":
        from proxy.usage.store.dynamodb import DynamoDBUsageStore

        return DynamoDBUsageStore(settings)
    from proxy.usage.store.sqlite import SQLiteUsageStore

    return SQLiteUsageStore(settings.sqlite_path, retention_days=settings.usage_retention_days)


def redis_client(settings: Settings, *, max_connections: int = 64) -> redis.asyncio.Redis:
    """A client for the limiter: bounded pool, every wait bounded by the limiter timeout (no I/O here).

    With LLM_GATEWAY_REDIS_CLUSTER, a RedisCluster with the same bounds per node (proxy/limits/cluster.py).
    """
    import redis.asyncio as aioredis

    assert settings.redis_url is not None
    timeout_s = settings.redis_timeout_ms / 1000
    if settings.redis_cluster:
        from proxy.limits.cluster import cluster_client

        # Typed as Redis for the callers: both speak the commands the limiter and the auth sync use.
        return cluster_client(settings.redis_url, max_connections=max_connections, timeout_s=timeout_s)  # type: ignore[return-value]
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=max_connections, timeout=timeout_s,
        socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
    )
    return aioredis.Redis(connection_pool=pool)


def create_limiter(
    settings: Settings,
    redis: redis.asyncio.Redis | None,
    *,
    budget_seed: BudgetSeed | None = None,
    clock: Clock | None = None,
) -> Limiter:
    """Redis limiter when a client is given or REDIS_URL is set; otherwise the in-process one."""
    from proxy.limits.local import LocalLimiter
    from proxy.limits.redis import RedisLimiter

    if redis is None and settings.redis_url is None:
        return LocalLimiter(budget_seed=budget_seed, clock=clock)
    owns_client = redis is None
    client = redis if redis is not None else redis_client(settings)
    return RedisLimiter(
        client,
        timeout_ms=settings.redis_timeout_ms,
        policy=settings.ratelimit_failure_policy,
        budget_seed=budget_seed,
        clock=clock,
        owns_client=owns_client,
    )


def create_cache(settings: Settings, redis: redis.asyncio.Redis | None) -> CachePolicy | None:
    """The response cache: in Redis when there is one (shared by replicas), else in this process."""
    if settings.cache_ttl_s <= 0:
        return None
    from proxy.cache.store import LocalLRUCache, RedisResponseCache, ResponseCache

    store: ResponseCache = RedisResponseCache(redis) if redis is not None else \
        LocalLRUCache(max_entries=settings.cache_max_entries)
    return CachePolicy(store, settings.cache_ttl_s, teams=frozenset(settings.cache_teams),
                       sampled_teams=frozenset(settings.cache_sampled_teams))


def create_providers(settings: Settings, catalog: ModelCatalog | None = None) -> dict[str, Provider]:
    """One provider per entry of the catalog's providers (proxy/catalog/providers.py); ``bedrock`` always."""
    from proxy.catalog.providers import BUILTIN, builtin_bedrock

    configs = catalog.providers if catalog is not None else {BUILTIN: builtin_bedrock()}
    return {name: _provider(settings, config) for name, config in configs.items()}


def _provider(settings: Settings, config: ProviderConfig) -> Provider:
    connect = config.connect_timeout_s or settings.upstream_connect_timeout_s
    if config.kind == "bedrock":
        from proxy.providers.bedrock.client import BedrockClient
        from proxy.providers.bedrock.provider import BedrockProvider

        # Another region's built-in deployment talks to that region's public endpoint; the gateway's
        # own endpoint override (a VPC endpoint, the emulator) is for AWS_REGION.
        endpoint = config.endpoint_url or (settings.bedrock_endpoint_url if config.region is None else None)
        return BedrockProvider(BedrockClient(
            region=config.region or settings.aws_region, endpoint=endpoint, connect_timeout_s=connect,
            read_timeout_s=config.idle_timeout_s or settings.upstream_read_timeout_s,
            max_connections=settings.upstream_max_connections,
        ))
    from proxy.providers.openai_format.client import OpenAIFormatClient
    from proxy.providers.openai_format.provider import OpenAIFormatProvider
    from proxy.settings import provider_secret

    key = provider_secret(config.api_key_env) if config.api_key_env else None
    if config.api_key_env and key is None:
        log.error("provider %s: the variable %s named by api_key_env is not set; its calls will fail",
                  config.name, config.api_key_env)
    client = OpenAIFormatClient(
        config, key, connect_timeout_s=connect,
        first_byte_timeout_s=config.first_byte_timeout_s or settings.upstream_read_timeout_s,
        idle_timeout_s=config.idle_timeout_s or settings.upstream_read_timeout_s,
        max_connections=settings.upstream_max_connections,
    )
    return OpenAIFormatProvider(client, missing_key=config.api_key_env if config.api_key_env and key is None
                                else None)


async def build_services(settings: Settings) -> Services:
    """Create and start everything one process needs; the order is the dependency order."""
    from proxy.auth import ops as keyops
    from proxy.auth.authenticator import Authenticator
    from proxy.usage.alerts import AlertConfig, BudgetAlerter, month_to_date_spend
    from proxy.usage.recorder import UsageRecorder

    catalog = ModelCatalog.load(settings.model_catalog_path, allow_raw_model_ids=settings.allow_raw_model_ids,
                                region=settings.aws_region)  # prices are billed in the source region
    unverified = catalog.unverified_prices()
    if unverified:
        log.warning(
            "catalog: no list price for region %s for %d model(s) (%s); they are priced at the base "
            "price of %s. Add pricing.regions.\"%s\" to the catalog to price them exactly.",
            settings.aws_region, len(unverified), ", ".join(unverified), "/".join(catalog.base_price_regions),
            settings.aws_region,
        )
    weak = weak_admin_key(settings.admin_key)
    if weak is not None:
        raise ConfigError(f"{weak} (hardening: a guessable admin key opens every team's keys and books).")
    if not settings.key_pepper:
        log.warning("LLM_GATEWAY_KEY_PEPPER is not set: key hashes use a public default pepper, so a "
                    "leaked key table can be checked offline and forged checksum-valid keys cost a store "
                    "read each. Set a random secret of 32+ characters (and keep it: changing it "
                    "invalidates every key).")
    hasher = KeyHasher(settings.key_pepper)  # one for the process: the authenticator and key ops share it
    redis = redis_client(settings) if settings.redis_url else None
    keystore = open_keystore(settings)
    if settings.store == "sqlite":  # DynamoDB tables come from Terraform or `llm-gateway tables create`
        await keystore.create_tables()
    if settings.demo_key:
        await keyops.ensure_key(keystore, settings, settings.demo_key, team_id="demo", team_name="Demo team",
                                name="demo key", hasher=hasher)
    auth = Authenticator(keystore, settings, redis, hasher=hasher)
    await auth.start()
    usage_store = open_usage_store(settings)
    await usage_store.start()
    alerter = BudgetAlerter(usage_store, AlertConfig.from_settings(settings))
    usage = UsageRecorder.from_settings(usage_store, settings, on_flush=alerter.check)
    await usage.start()

    async def budget_seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        return await month_to_date_spend(usage_store, team_id, period, key_id)

    limiter = create_limiter(settings, redis, budget_seed=budget_seed)
    cache = create_cache(settings, redis)
    providers = create_providers(settings, catalog)
    for provider in providers.values():
        await provider.start()
    return Services(settings=settings, catalog=catalog, providers=providers, keystore=keystore, auth=auth,
                    limiter=limiter, usage=usage, usage_store=usage_store, redis=redis, alerter=alerter,
                    cache=cache)


async def close_services(services: Services) -> None:
    """Graceful shutdown (SIGTERM): stop taking work, flush usage, then close connections."""
    for provider in services.providers.values():
        await provider.close()
    await services.usage.close()
    if services.alerter is not None:
        await services.alerter.close()
    await services.usage_store.close()
    await services.limiter.close()
    if services.cache is not None:
        await services.cache.store.close()
    await services.auth.close()
    await services.keystore.close()
    if services.redis is not None:
        await services.redis.aclose()
