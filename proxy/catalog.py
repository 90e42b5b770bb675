"""Model catalog: client-facing aliases -> Bedrock ids, prices and capabilities (loaded from TOML)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from proxy.errors import ModelNotFound
from translators.capabilities import ModelCapabilities

PROVIDER = "aws-bedrock"
GEO_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.")


class CatalogError(ValueError):
    """The catalog file is malformed; raised at startup, never per request."""


@dataclass(frozen=True)
class Price:
    """USD per 1,000 tokens for each billed bucket (in-region on-demand) and profile multipliers."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    geo_multiplier: Decimal = Decimal(1)
    global_multiplier: Decimal = Decimal(1)


@dataclass(frozen=True)
class ModelEntry:
    alias: str  # the name clients send and get echoed back
    bedrock_id: str  # model id, inference profile id or ARN
    description: str
    capabilities: ModelCapabilities
    price: Price | None
    listed: bool = True  # False for raw Bedrock ids accepted outside the catalog

    @property
    def profile_type(self) -> str:
        """in-region, geo or global: AWS prices cross-region inference profiles differently."""
        return profile_type(self.bedrock_id)

    @property
    def base_model_id(self) -> str:
        return base_model_id(self.bedrock_id)


def profile_type(bedrock_id: str) -> str:
    tail = bedrock_id.rsplit("/", 1)[-1] if bedrock_id.startswith("arn:") else bedrock_id
    if tail.startswith("global."):
        return "global"
    if tail.startswith(GEO_PREFIXES):
        return "geo"
    return "in-region"


def base_model_id(bedrock_id: str) -> str:
    """The foundation model id behind a profile id (``us.anthropic.x`` -> ``anthropic.x``)."""
    tail = bedrock_id.rsplit("/", 1)[-1] if bedrock_id.startswith("arn:") else bedrock_id
    for prefix in ("global.", *GEO_PREFIXES):
        if tail.startswith(prefix):
            return tail[len(prefix):]
    return tail


def guess_capabilities(bedrock_id: str) -> ModelCapabilities:
    """Capabilities of an unlisted model, from its family; generous where the family is unknown."""
    model = base_model_id(bedrock_id)
    if model.startswith("anthropic."):
        thinking = any(tag in model for tag in ("claude-3-7", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4"))
        return ModelCapabilities(tool_result_images=True, documents=True, reasoning=thinking)
    if model.startswith("amazon.nova"):
        return ModelCapabilities(tool_result_images=True, documents=True, vision="micro" not in model)
    if model.startswith("meta.llama3-") and not model.startswith(("meta.llama3-1", "meta.llama3-2", "meta.llama3-3")):
        return ModelCapabilities(tools=False, streaming_tools=False, vision=False, prefill=False)
    if model.startswith(("meta.", "mistral.", "cohere.", "ai21.")):
        return ModelCapabilities(vision="llama3-2-11b" in model or "llama3-2-90b" in model, prefill=False)
    return ModelCapabilities()


def _decimal(value: Any, where: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(f"{where}: {value!r} is not a number") from None
    if result < 0:
        raise CatalogError(f"{where}: prices cannot be negative")
    return result


def _price(raw: dict[str, Any] | None, where: str) -> Price | None:
    if raw is None:
        return None
    unknown = set(raw) - {f.name for f in fields(Price)}
    if unknown:
        raise CatalogError(f"{where}: unknown pricing keys {sorted(unknown)}")
    if "input" not in raw or "output" not in raw:
        raise CatalogError(f"{where}: pricing needs input and output")
    optional = {k: _decimal(v, f"{where}.{k}") for k, v in raw.items() if k not in ("input", "output")}
    return Price(input=_decimal(raw["input"], f"{where}.input"), output=_decimal(raw["output"], f"{where}.output"),
                 **optional)


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
    """Resolves a client's ``model`` string to a ModelEntry (aliases first, then raw Bedrock ids)."""

    def __init__(self, entries: list[ModelEntry], *, allow_raw_model_ids: bool = True) -> None:
        self.entries = {entry.alias: entry for entry in entries}
        self.allow_raw_model_ids = allow_raw_model_ids
        self._by_bedrock_id = {entry.bedrock_id: entry for entry in entries}
        self._by_base_model = {entry.base_model_id: entry for entry in entries}

    @classmethod
    def load(cls, path: str | None = None, *, allow_raw_model_ids: bool | None = None) -> ModelCatalog:
        if path is None:
            text = resources.files("proxy").joinpath("catalog.toml").read_text(encoding="utf-8")
            where = "packaged catalog.toml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            where = path
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{where}: {exc}") from None
        entries = []
        for alias, raw in data.get("models", {}).items():
            at = f"{where}: models.{alias}"
            if "bedrock_id" not in raw:
                raise CatalogError(f"{at}: bedrock_id is required")
            entries.append(ModelEntry(
                alias=alias,
                bedrock_id=raw["bedrock_id"],
                description=raw.get("description", ""),
                capabilities=_capabilities(raw.get("capabilities"), raw["bedrock_id"], at),
                price=_price(raw.get("pricing"), f"{at}.pricing"),
            ))
        allow = data.get("settings", {}).get("allow_raw_model_ids", True)
        if allow_raw_model_ids is not None:
            allow = allow and allow_raw_model_ids
        return cls(entries, allow_raw_model_ids=bool(allow))

    def resolve(self, name: str) -> ModelEntry:
        entry = self.entries.get(name) or self._by_bedrock_id.get(name)
        if entry is not None:
            return entry if entry.alias == name else self._raw(name, entry)
        if self.allow_raw_model_ids and _looks_like_bedrock_id(name):
            return self._raw(name, self._by_base_model.get(base_model_id(name)))
        raise ModelNotFound(
            f"The model `{name}` does not exist or you do not have access to it.", param="model"
        )

    def _raw(self, name: str, listed: ModelEntry | None) -> ModelEntry:
        # A raw id inherits price and capabilities from the listed entry of the same foundation model,
        # but its own profile type decides the multiplier.
        return ModelEntry(
            alias=name,
            bedrock_id=name,
            description=listed.description if listed else "Bedrock model (not in the catalog)",
            capabilities=listed.capabilities if listed else guess_capabilities(name),
            price=listed.price if listed else None,
            listed=False,
        )


def _looks_like_bedrock_id(name: str) -> bool:
    if name.startswith("arn:aws") and ":bedrock:" in name:
        return True
    model = base_model_id(name)
    provider, dot, rest = model.partition(".")
    return bool(dot and rest and provider.isalnum() and len(name) <= 2048 and " " not in name)
