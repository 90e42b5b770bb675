"""Model catalog: client-facing aliases -> deployments (Bedrock ids or other providers' models), prices and
capabilities, loaded from TOML. The provider tables themselves are parsed in proxy/catalog/providers.py."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from proxy.catalog.providers import (
    BUILTIN,
    KINDS,
    ProviderConfig,
    ProviderConfigError,
    builtin_bedrock,
    parse_providers,
)
from proxy.errors import ModelNotFound
from proxy.providers.bedrock.model_ids import (
    base_model_id,
    billing_region,
    guess_capabilities,
    looks_like_bedrock_id,
    profile_type,
)
from translators.anthropic_bedrock.capabilities import AnthropicCapabilities
from translators.openai_bedrock.capabilities import ModelCapabilities

PROVIDERS = KINDS  # the provider kinds this version can build (proxy/services.py)
REGION_NAME = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")  # eu-central-1, us-gov-west-1


class CatalogError(ValueError):
    """The catalog file is malformed; raised at startup, never per request."""


@dataclass(frozen=True)
class Price:
    """USD per 1,000 tokens for each billed bucket (in-region on-demand) and profile multipliers.

    ``regions`` holds the complete price in regions whose list price differs from the base one
    (each already merged with the base); ``for_region`` picks the one a call is billed at.
    """

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    geo_multiplier: Decimal = Decimal(1)
    global_multiplier: Decimal = Decimal(1)
    regions: Mapping[str, Price] = field(default_factory=dict, hash=False, repr=False)

    def for_region(self, region: str | None) -> Price:
        """The flat price billed in ``region`` (the base price where there is no override)."""
        regional = self.regions.get(region, self) if region else self
        return replace(regional, regions={}) if regional.regions else regional


# Regions whose list price is the catalog's base price (us-east-1 and us-west-2 bill the same);
# catalog.toml [settings] base_price_regions overrides it.
BASE_PRICE_REGIONS = ("us-east-1", "us-west-2")
PRICE_KEYS = tuple(f.name for f in fields(Price) if f.name != "regions")


@dataclass(frozen=True)
class ModelEntry:
    alias: str  # the name clients send and get echoed back
    bedrock_id: str  # model id, inference profile id or ARN
    description: str
    capabilities: ModelCapabilities
    price: Price | None
    listed: bool = True  # False for raw Bedrock ids accepted outside the catalog
    provider: str = "bedrock"  # the key of the provider that serves it (proxy/services.py builds them)
    fallback_priced: bool = False  # price is the operator's LLM_GATEWAY_UNPRICED_MODEL_PRICE, not a list price
    context_window: int | None = None  # tokens; None: unknown, never checked
    max_output_tokens: int | None = None
    aliases: tuple[str, ...] = ()  # other names clients send for it (Anthropic's dated ids, ...)
    # The Anthropic Messages API (/v1/messages): Claude models go to Bedrock's InvokeModel natively with
    # these betas and fields; other models answer through Converse (proxy/providers/bedrock/messages.py).
    anthropic: AnthropicCapabilities = field(default_factory=AnthropicCapabilities)
    anthropic_betas: frozenset[str] = frozenset()
    # Deployments ([models.X] deployments = [...]): this entry is the first; ``alternatives`` are the
    # others, in the catalog's order (proxy/pipeline/routing.py orders and falls back across them).
    deployment: str | None = None  # Azure's deployment name (bedrock_id then holds the underlying model)
    weight: int | None = None  # a share of first attempts; None: tried in the listed order
    alternatives: tuple[ModelEntry, ...] = ()

    @property
    def upstream_model(self) -> str:
        """The model the upstream is asked for (a Bedrock id, an OpenAI model name)."""
        return self.bedrock_id

    @property
    def label(self) -> str:
        """Names the deployment that served a call: x-gateway-deployment, the books, /metrics."""
        return f"{self.provider}/{self.deployment or self.bedrock_id}"

    @property
    def record_model_id(self) -> str:
        """What a usage record names as the upstream model: the Bedrock id on the built-in Bedrock
        provider (as before deployments existed), else the deployment's label."""
        return self.bedrock_id if self.provider == "bedrock" else self.label

    @property
    def deployments(self) -> tuple[ModelEntry, ...]:
        return (self, *self.alternatives)

    @property
    def native_anthropic(self) -> bool:
        """Claude on Bedrock: InvokeModel takes the Messages API as it is."""
        return base_model_id(self.bedrock_id).startswith("anthropic.")

    @property
    def profile_type(self) -> str:
        """in-region, geo or global: AWS prices cross-region inference profiles differently."""
        return profile_type(self.bedrock_id)

    @property
    def base_model_id(self) -> str:
        return base_model_id(self.bedrock_id)


def _decimal(value: Any, where: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(f"{where}: {value!r} is not a number") from None
    if not result.is_finite():
        raise CatalogError(f"{where}: {value!r} is not a number")
    if result < 0:
        raise CatalogError(f"{where}: prices cannot be negative")
    return result


def _buckets(raw: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:  # name -> Decimal
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a table of prices")
    unknown = set(raw) - set(allowed)
    if unknown:
        raise CatalogError(f"{where}: unknown pricing keys {sorted(unknown)}")
    return {k: _decimal(v, f"{where}.{k}") for k, v in raw.items() if k != "regions"}


def _price(raw: dict[str, Any] | None, where: str) -> Price | None:
    if raw is None:
        return None
    values = _buckets(raw, (*PRICE_KEYS, "regions"), where)
    if "input" not in values or "output" not in values:
        raise CatalogError(f"{where}: pricing needs input and output")
    base = Price(**values)
    regions = raw.get("regions", {})
    if not isinstance(regions, dict):
        raise CatalogError(f"{where}.regions: must be a table of regions")
    overrides = {}
    for region, override in regions.items():
        if not REGION_NAME.fullmatch(region):
            raise CatalogError(f"{where}.regions.{region}: not an AWS region name (like eu-central-1)")
        overrides[region] = replace(base, **_buckets(override, PRICE_KEYS, f"{where}.regions.{region}"))
    return replace(base, regions=overrides) if overrides else base


def _betas(raw: Any, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(b, str) and b for b in raw):
        raise CatalogError(f"{where}.anthropic_betas: expected a list of beta names")
    return frozenset(raw)


def _anthropic(raw: dict[str, Any], default_betas: frozenset[str], where: str) -> dict[str, Any]:
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise CatalogError(f"{where}.aliases: expected a list of model names")
    out: dict[str, Any] = {"aliases": tuple(aliases)}
    out["anthropic_betas"] = _betas(raw["anthropic_betas"], where) if "anthropic_betas" in raw else default_betas
    features = raw.get("anthropic")
    if features is not None:
        known = {f.name for f in fields(AnthropicCapabilities)}
        if not isinstance(features, dict) or set(features) - known:
            raise CatalogError(f"{where}.anthropic: expected a table of {sorted(known)}")
        out["anthropic"] = AnthropicCapabilities(**{k: bool(v) for k, v in features.items()})
    return out


def _limits(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - {"context_window", "max_output_tokens"}:
        raise CatalogError(f"{where}: expected a table with context_window and/or max_output_tokens")
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CatalogError(f"{where}.{name}: expected a positive number of tokens")
    return dict(raw)


def _provider(raw: Any, providers: Mapping[str, ProviderConfig], where: str) -> str:
    if not isinstance(raw, str) or raw not in providers:
        raise CatalogError(f"{where}: provider must be one of the declared providers "
                           f"({', '.join(sorted(providers))}), got {raw!r}")
    return raw


_DEPLOYMENT_KEYS = frozenset({"provider", "model", "deployment", "weight", "region", "pricing"})


def _deployments(raw: Any, model: dict[str, Any], providers: dict[str, ProviderConfig],
                 where: str) -> list[dict[str, Any]]:
    """``deployments = [...]`` -> the fields of one ModelEntry each (first = the entry itself)."""
    if not isinstance(raw, list) or not raw:
        raise CatalogError(f"{where}.deployments: expected a non-empty list of {{ provider, model }} tables")
    out = []
    for i, item in enumerate(raw):
        at = f"{where}.deployments[{i}]"
        if not isinstance(item, dict) or set(item) - _DEPLOYMENT_KEYS:
            raise CatalogError(f"{at}: expected a table with keys from {sorted(_DEPLOYMENT_KEYS)}")
        name = _provider(item.get("provider"), providers, at)
        config = providers[name]
        region = item.get("region")
        if region is not None:
            if not isinstance(region, str) or not REGION_NAME.fullmatch(region):
                raise CatalogError(f"{at}.region: not an AWS region name (like eu-central-1)")
            if config.kind == "bedrock" and region != config.region:
                # Another region of the built-in credentials: its own client (proxy/services.py).
                config = providers.setdefault(f"{name}@{region}", builtin_bedrock(region))
                name = config.name
        deployment = item.get("deployment")
        if deployment is not None and (not isinstance(deployment, str) or not deployment):
            raise CatalogError(f"{at}.deployment: expected the Azure deployment's name")
        if config.kind == "azure" and config.path == "deployments" and deployment is None:
            raise CatalogError(f"{at}.deployment: an Azure deployment names its deployment")
        upstream = item.get("model", deployment)
        if not isinstance(upstream, str) or not upstream:
            raise CatalogError(f"{at}.model: expected the upstream model's name")
        weight = item.get("weight")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or weight < 0):
            raise CatalogError(f"{at}.weight: expected a non-negative integer")
        pricing = item.get("pricing", model.get("pricing"))
        out.append({"bedrock_id": upstream, "provider": name, "deployment": deployment, "weight": weight,
                    "price": _price(pricing, f"{at}.pricing" if "pricing" in item else f"{where}.pricing")})
    return out


def _capabilities(raw: dict[str, Any] | None, bedrock_id: str, where: str) -> ModelCapabilities:
    base = guess_capabilities(bedrock_id)
    if not raw:
        return base
    known = {f.name for f in fields(ModelCapabilities)}
    unknown = set(raw) - known
    if unknown:
        raise CatalogError(f"{where}: unknown capabilities {sorted(unknown)}")
    return ModelCapabilities(**{**{f: getattr(base, f) for f in known}, **{k: bool(v) for k, v in raw.items()}})


class ModelCatalog:
    """Resolves a client's ``model`` string to a ModelEntry (aliases first, then raw Bedrock ids).

    Built for one ``region`` (where requests are sent, ``AWS_REGION``): every entry it returns
    carries the flat price billed there (``Price.for_region``), so pricing needs no region.
    """

    def __init__(self, entries: list[ModelEntry], *, allow_raw_model_ids: bool = True,
                 region: str | None = None, base_price_regions: tuple[str, ...] = BASE_PRICE_REGIONS,
                 default_betas: frozenset[str] = frozenset(),
                 providers: Mapping[str, ProviderConfig] | None = None) -> None:
        self.default_betas = default_betas  # for raw Claude ids without a listed sibling
        self.region = region
        self.base_price_regions = base_price_regions
        self.providers = dict(providers or {BUILTIN: builtin_bedrock()})
        self._tables = {entry.alias: entry.price for entry in entries}  # with their regional overrides
        entries = [self._flat_prices(entry) for entry in entries]
        self.entries = {entry.alias: entry for entry in entries}
        self.allow_raw_model_ids = allow_raw_model_ids
        # Raw ids resolve to Bedrock only: another provider's model name is reached by its alias.
        on_bedrock = [entry for entry in entries if self.providers[entry.provider].kind == "bedrock"]
        self._by_bedrock_id = {entry.bedrock_id: entry for entry in on_bedrock}
        self._by_alias = {alias: entry for entry in entries for alias in entry.aliases}
        self._by_base_model = {entry.base_model_id: entry for entry in on_bedrock}

    @classmethod
    def load(cls, path: str | None = None, *, allow_raw_model_ids: bool | None = None,
             region: str | None = None) -> ModelCatalog:
        if path is None:
            text = resources.files("proxy.catalog").joinpath("catalog.toml").read_text(encoding="utf-8")
            where = "packaged catalog.toml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            where = path
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{where}: {exc}") from None
        default_betas = _betas(data.get("settings", {}).get("anthropic_betas", []), f"{where}: settings")
        try:
            providers = parse_providers(data.get("providers"), where)
        except ProviderConfigError as exc:
            raise CatalogError(str(exc)) from None
        entries = []
        for alias, raw in data.get("models", {}).items():
            at = f"{where}: models.{alias}"
            if "bedrock_id" in raw and "deployments" in raw:
                raise CatalogError(f"{at}: give either bedrock_id or deployments, not both")
            if "bedrock_id" not in raw and "deployments" not in raw:
                raise CatalogError(f"{at}: bedrock_id is required (or a list of deployments)")
            if "deployments" in raw:
                targets = _deployments(raw["deployments"], raw, providers, at)
            else:
                provider = _provider(raw.get("provider", BUILTIN), providers, at)
                if providers[provider].kind != "bedrock":
                    raise CatalogError(f"{at}: bedrock_id names a Bedrock model; use deployments for "
                                       f"provider {provider!r}")
                targets = [{"bedrock_id": raw["bedrock_id"], "provider": provider,
                            "price": _price(raw.get("pricing"), f"{at}.pricing")}]
            shared = {
                "alias": alias, "description": raw.get("description", ""),
                **_limits(raw.get("limits"), f"{at}.limits"), **_anthropic(raw, default_betas, at),
            }
            built = [ModelEntry(**shared, **target,
                                capabilities=_capabilities(raw.get("capabilities"), target["bedrock_id"], at))
                     for target in targets]
            entries.append(replace(built[0], alternatives=tuple(built[1:])))
        allow = data.get("settings", {}).get("allow_raw_model_ids", True)
        if allow_raw_model_ids is not None:
            allow = allow and allow_raw_model_ids
        base_regions = data.get("settings", {}).get("base_price_regions", list(BASE_PRICE_REGIONS))
        if not isinstance(base_regions, list) or not all(
                isinstance(r, str) and REGION_NAME.fullmatch(r) for r in base_regions):
            raise CatalogError(f"{where}: settings.base_price_regions must be a list of AWS region names")
        return cls(entries, allow_raw_model_ids=bool(allow), region=region,
                   base_price_regions=tuple(base_regions), default_betas=default_betas, providers=providers)

    def unverified_prices(self) -> list[str]:
        """Priced models billed in a region that neither the base prices nor an override vouch for.

        They are charged the base list price, which AWS may not ask there: the gateway says so at
        startup rather than price them silently.
        """
        unverified = []
        for alias, entry in self.entries.items():
            table, region = self._tables.get(alias), self._billing_region(entry)
            if table is None or region is None or region in self.base_price_regions:
                continue
            if region not in table.regions:
                unverified.append(alias)
        return unverified

    def resolve(self, name: str) -> ModelEntry:
        entry = self.entries.get(name) or self._by_alias.get(name)
        if entry is not None:
            return entry
        entry = self._by_bedrock_id.get(name)
        if entry is not None:
            return entry if entry.alias == name else self._raw(name, entry)
        if self.allow_raw_model_ids and looks_like_bedrock_id(name):
            return self._raw(name, self._by_base_model.get(base_model_id(name)))
        raise ModelNotFound(
            f"The model `{name}` does not exist or you do not have access to it.", param="model"
        )

    def _price_for(self, alias: str, bedrock_id: str) -> Price | None:
        table = self._tables.get(alias)
        return None if table is None else table.for_region(billing_region(bedrock_id, self.region))

    def _billing_region(self, entry: ModelEntry) -> str | None:
        """Where a deployment is billed: its Bedrock provider's region; None off Bedrock (one price)."""
        config = self.providers.get(entry.provider)
        if config is None or config.kind != "bedrock":
            return None
        return billing_region(entry.bedrock_id, config.region or self.region)

    def _flat_prices(self, entry: ModelEntry) -> ModelEntry:
        """Each deployment carries the flat price billed where it runs (Price.for_region)."""
        def flat(one: ModelEntry) -> ModelEntry:
            return one if one.price is None else replace(one, price=one.price.for_region(self._billing_region(one)))
        return replace(flat(entry), alternatives=tuple(flat(alt) for alt in entry.alternatives))

    def _raw(self, name: str, listed: ModelEntry | None) -> ModelEntry:
        # A raw id inherits price and capabilities from the listed entry of the same foundation model,
        # but its own profile type decides the multiplier (and an ARN's own region the regional price).
        return ModelEntry(
            alias=name,
            bedrock_id=name,
            description=listed.description if listed else "Bedrock model (not in the catalog)",
            capabilities=listed.capabilities if listed else guess_capabilities(name),
            price=self._price_for(listed.alias, name) if listed else None,
            listed=False,
            context_window=listed.context_window if listed else None,
            max_output_tokens=listed.max_output_tokens if listed else None,
            anthropic=listed.anthropic if listed else AnthropicCapabilities(),
            anthropic_betas=listed.anthropic_betas if listed else self.default_betas,
        )
