"""The long-lived objects one gateway process holds, built in the lifespan (see app.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from proxy.metrics import Metrics
from proxy.settings import Settings

log = logging.getLogger("llm_gateway.catalog")

if TYPE_CHECKING:
    from proxy.auth import Authenticator
    from proxy.bedrock import BedrockClient
    from proxy.catalog import ModelCatalog
    from proxy.keystore import KeyStore
    from proxy.ratelimit import Limiter
    from proxy.usage import UsageRecorder
    from proxy.usagestore import UsageStore


@dataclass
class Services:
    settings: Settings
    catalog: ModelCatalog
    bedrock: BedrockClient
    keystore: KeyStore
    auth: Authenticator
    limiter: Limiter
    usage: UsageRecorder
    usage_store: UsageStore
    redis: Any | None = None  # redis.asyncio.Redis when REDIS_URL is set
    alerter: Any | None = None
    metrics: Metrics = field(default_factory=Metrics)


async def build_services(settings: Settings) -> Services:
    """Create and start everything one process needs; the order is the dependency order."""
    from proxy import keyops
    from proxy.alerts import BudgetAlerter, month_to_date_spend
    from proxy.auth import Authenticator
    from proxy.bedrock import BedrockClient
    from proxy.catalog import ModelCatalog
    from proxy.keystore import open_keystore
    from proxy.ratelimit import create_limiter, redis_client
    from proxy.usage import UsageRecorder
    from proxy.usagestore import open_usage_store

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
    redis = redis_client(settings) if settings.redis_url else None
    keystore = open_keystore(settings)
    if settings.store == "sqlite":  # DynamoDB tables come from Terraform or `llm-gateway tables create`
        await keystore.create_tables()
    if settings.demo_key:
        await keyops.ensure_key(keystore, settings, settings.demo_key, team_id="demo", team_name="Demo team",
                                name="demo key")
    auth = Authenticator(keystore, settings, redis)
    await auth.start()
    usage_store = open_usage_store(settings)
    await usage_store.start()
    alerter = BudgetAlerter(usage_store, settings)
    usage = UsageRecorder(usage_store, settings, on_flush=alerter.check)
    await usage.start()

    async def budget_seed(team_id: str, period: str, key_id: str | None) -> Decimal:
        return await month_to_date_spend(usage_store, team_id, period, key_id)

    limiter = create_limiter(settings, redis, budget_seed=budget_seed)
    bedrock = BedrockClient(settings)
    await bedrock.start()
    return Services(settings=settings, catalog=catalog, bedrock=bedrock, keystore=keystore, auth=auth,
                    limiter=limiter, usage=usage, usage_store=usage_store, redis=redis, alerter=alerter)


async def close_services(services: Services) -> None:
    """Graceful shutdown (SIGTERM): stop taking work, flush usage, then close connections."""
    await services.bedrock.close()
    await services.usage.close()
    if services.alerter is not None:
        await services.alerter.close()
    await services.usage_store.close()
    await services.limiter.close()
    await services.auth.close()
    await services.keystore.close()
    if services.redis is not None:
        await services.redis.aclose()
