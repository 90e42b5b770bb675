"""The catalog's ``[providers.<name>]`` tables: which upstreams exist and how to reach them.

Credentials are never in the catalog: a provider names the environment variable that holds its key
(``api_key_env``), read once at startup by proxy/services.py. A value that looks like a key rather than a
variable's name is refused at load time, so a pasted secret never sits in a file that gets committed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("bedrock", "openai", "azure", "openai_compatible")
BUILTIN = "bedrock"  # the gateway's own AWS credentials, AWS_REGION and endpoint: needs no table
OPENAI_FORMAT = frozenset({"openai", "azure", "openai_compatible"})  # chat bodies pass through as they are
AZURE_PATHS = ("deployments", "v1")  # /openai/deployments/{d}/...?api-version=  |  /openai/v1/...
AZURE_AUTH = ("api-key", "bearer")   # the api-key header, or an Entra ID token as Authorization: Bearer
OPENAI_BASE_URL = "https://api.openai.com/v1"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REGION_NAME = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")  # eu-central-1, us-gov-west-1
_TIMEOUTS = ("connect_timeout_s", "first_byte_timeout_s", "idle_timeout_s")
_KEYS = {
    # Bedrock's client bounds the wait for the first byte by its idle timeout (sock_read): no third knob.
    "bedrock": {"kind", "region", "endpoint_url", "connect_timeout_s", "idle_timeout_s"},
    "openai": {"kind", "base_url", "api_key_env", "organization", *_TIMEOUTS},
    "openai_compatible": {"kind", "base_url", "api_key_env", *_TIMEOUTS},
    "azure": {"kind", "base_url", "api_key_env", "api_version", "auth", "path", *_TIMEOUTS},
}


class ProviderConfigError(ValueError):
    """A provider table is malformed (proxy/catalog/catalog.py wraps it as a CatalogError)."""


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    base_url: str | None = None       # openai-format kinds: up to and including /v1 (Azure: the resource)
    api_key_env: str | None = None    # the variable holding the key (or Azure's Entra ID token)
    organization: str | None = None   # openai: the OpenAI-Organization header
    api_version: str | None = None    # azure, path "deployments"
    auth: str = "api-key"             # azure: api-key | bearer
    path: str = "deployments"         # azure: deployments | v1
    region: str | None = None         # bedrock: another region than AWS_REGION
    endpoint_url: str | None = None   # bedrock: another endpoint (a VPC endpoint, another emulator)
    connect_timeout_s: float | None = None    # None: LLM_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_S
    first_byte_timeout_s: float | None = None  # None: LLM_GATEWAY_UPSTREAM_READ_TIMEOUT_S
    idle_timeout_s: float | None = None        # None: LLM_GATEWAY_UPSTREAM_READ_TIMEOUT_S

    @property
    def openai_format(self) -> bool:
        return self.kind in OPENAI_FORMAT


def builtin_bedrock(region: str | None = None) -> ProviderConfig:
    """``bedrock`` itself, or ``bedrock@<region>`` for a deployment that names another region."""
    return ProviderConfig(name=BUILTIN if region is None else f"{BUILTIN}@{region}", kind="bedrock",
                          region=region)


def parse_providers(raw: Any, where: str) -> dict[str, ProviderConfig]:
    """``[providers.*]`` -> configs by name; ``bedrock`` is always there (a table may tune it)."""
    configs = {BUILTIN: builtin_bedrock()}
    if raw is None:
        return configs
    if not isinstance(raw, Mapping):
        raise ProviderConfigError(f"{where}: providers must be a table of [providers.<name>] tables")
    for name, table in raw.items():
        configs[name] = _provider(name, table, f"{where}: providers.{name}")
    return configs


def _provider(name: str, table: Any, where: str) -> ProviderConfig:
    if not isinstance(table, Mapping):
        raise ProviderConfigError(f"{where}: must be a table")
    if "@" in name or not name:
        raise ProviderConfigError(f"{where}: a provider name may not contain '@'")
    kind = table.get("kind")
    if kind not in KINDS:
        raise ProviderConfigError(f"{where}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    if name == BUILTIN and kind != "bedrock":
        raise ProviderConfigError(f"{where}: the name `bedrock` is the built-in Bedrock provider")
    if "api_key" in table:
        raise ProviderConfigError(f"{where}.api_key: keys never go in the catalog; put the key in an "
                                  "environment variable and name the variable with api_key_env")
    unknown = set(table) - _KEYS[kind]
    if unknown:
        raise ProviderConfigError(f"{where}: unknown keys for kind {kind}: {sorted(unknown)}")
    values: dict[str, Any] = {k: v for k, v in table.items() if k != "kind"}
    for key in ("base_url", "api_key_env", "organization", "api_version", "region", "endpoint_url", "auth", "path"):
        if key in values and (not isinstance(values[key], str) or not values[key]):
            raise ProviderConfigError(f"{where}.{key}: expected a non-empty string")
    for key in _TIMEOUTS:
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise ProviderConfigError(f"{where}.{key}: expected a positive number of seconds")
    env = values.get("api_key_env")
    if env is not None and not ENV_NAME.fullmatch(env):
        raise ProviderConfigError(f"{where}.api_key_env: expected the NAME of an environment variable "
                                  "(like OPENAI_API_KEY), never the key itself")
    for key in ("base_url", "endpoint_url"):
        url = values.get(key)
        if url is not None and not re.match(r"https?://[^/]", url):
            raise ProviderConfigError(f"{where}.{key}: expected an http(s):// URL, got {url!r}")
        if url is not None:
            values[key] = url.rstrip("/")
    if "region" in values and not REGION_NAME.fullmatch(values["region"]):
        raise ProviderConfigError(f"{where}.region: not an AWS region name (like eu-central-1)")
    if kind == "openai":
        values.setdefault("base_url", OPENAI_BASE_URL)
    if kind == "openai_compatible" and "base_url" not in values:
        raise ProviderConfigError(f"{where}.base_url: required for kind openai_compatible")
    if kind == "azure":
        _azure(values, where)
    return ProviderConfig(name=name, kind=kind, **values)


def _azure(values: dict[str, Any], where: str) -> None:
    if "base_url" not in values:
        raise ProviderConfigError(f"{where}.base_url: required for kind azure (https://<resource>.openai.azure.com)")
    if values.setdefault("path", "deployments") not in AZURE_PATHS:
        raise ProviderConfigError(f"{where}.path: one of {', '.join(AZURE_PATHS)}")
    if values.setdefault("auth", "api-key") not in AZURE_AUTH:
        raise ProviderConfigError(f"{where}.auth: one of {', '.join(AZURE_AUTH)}")
    if values["path"] == "deployments" and "api_version" not in values:
        raise ProviderConfigError(f"{where}.api_version: required for Azure's deployment paths (e.g. 2024-10-21)")
    if "api_key_env" not in values:
        raise ProviderConfigError(f"{where}.api_key_env: required for kind azure (the key or the Entra ID token)")
    # Azure's own form, with the /openai part: accept a base_url given either way.
    values["base_url"] = values["base_url"].removesuffix("/openai/v1").removesuffix("/openai")
