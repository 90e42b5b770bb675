"""The catalog's providers and deployments (issue 11's shape): parsed at startup, never a secret inside."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from proxy.catalog.catalog import CatalogError, ModelCatalog

MIXED = """
[providers.local]
kind = "openai_compatible"
base_url = "http://127.0.0.1:9200/v1"
api_key_env = "LOCAL_LLM_KEY"

[providers.azure]
kind = "azure"
base_url = "https://gw.openai.azure.com/"
api_version = "2024-10-21"
api_key_env = "AZURE_OPENAI_API_KEY"

[models."echo-mini"]
deployments = [ { provider = "local", model = "echo-mini" } ]
pricing = { input = "0.0001", output = "0.0002" }

[models."claude-3-haiku-ha"]
deployments = [ { provider = "bedrock", model = "anthropic.claude-3-haiku-20240307-v1:0" },
                { provider = "local", model = "echo-mini" } ]
pricing = { input = "0.00025", output = "0.00125" }

[models."gpt-4o-mini"]
pricing = { input = "0.00015", output = "0.0006" }
[[models."gpt-4o-mini".deployments]]
provider = "azure"
deployment = "gw-mini"
model = "gpt-4o-mini"
weight = 3
[[models."gpt-4o-mini".deployments]]  # the long form: a table per deployment
provider = "bedrock"
model = "amazon.nova-micro-v1:0"
region = "eu-west-1"
pricing = { input = "0.00005", output = "0.0002" }

[models."haiku"]
bedrock_id = "anthropic.claude-3-haiku-20240307-v1:0"
pricing = { input = "0.00025", output = "0.00125" }
"""


def load(tmp_path: Path, text: str, region: str = "us-east-1") -> ModelCatalog:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return ModelCatalog.load(str(path), region=region)


def test_mixed_catalog_declares_providers_and_deployments(tmp_path: Path) -> None:
    catalog = load(tmp_path, MIXED)
    assert set(catalog.providers) == {"bedrock", "local", "azure", "bedrock@eu-west-1"}
    local = catalog.providers["local"]
    assert (local.kind, local.base_url, local.api_key_env) == ("openai_compatible", "http://127.0.0.1:9200/v1",
                                                               "LOCAL_LLM_KEY")
    assert catalog.providers["azure"].base_url == "https://gw.openai.azure.com"
    echo = catalog.resolve("echo-mini")
    assert (echo.provider, echo.upstream_model, echo.label, echo.alternatives) == (
        "local", "echo-mini", "local/echo-mini", ())
    ha = catalog.resolve("claude-3-haiku-ha")
    assert [d.label for d in ha.deployments] == ["bedrock/anthropic.claude-3-haiku-20240307-v1:0",
                                                  "local/echo-mini"]
    assert all(d.price is not None and d.price.input == Decimal("0.00025") for d in ha.deployments)
    mini = catalog.resolve("gpt-4o-mini")
    assert (mini.deployment, mini.upstream_model, mini.weight, mini.label) == (
        "gw-mini", "gpt-4o-mini", 3, "azure/gw-mini")
    eu = mini.alternatives[0]
    assert (eu.provider, eu.price.input if eu.price else None) == ("bedrock@eu-west-1", Decimal("0.00005"))
    # A plain bedrock_id keeps working as before: one deployment, on the built-in provider.
    haiku = catalog.resolve("haiku")
    assert (haiku.provider, haiku.deployments, haiku.record_model_id) == (
        "bedrock", (haiku,), "anthropic.claude-3-haiku-20240307-v1:0")
    assert mini.record_model_id == "azure/gw-mini"


def test_another_providers_model_name_is_not_a_raw_bedrock_id(tmp_path: Path) -> None:
    catalog = load(tmp_path, MIXED)
    with pytest.raises(Exception, match="does not exist"):
        catalog.resolve("gpt-4o-mini-2024-07-18")
    # The Bedrock deployment's raw id still resolves to Bedrock (and not to the model's alternatives).
    raw = catalog.resolve("us.anthropic.claude-3-haiku-20240307-v1:0")
    assert raw.provider == "bedrock" and raw.alternatives == ()


@pytest.mark.parametrize(("text", "message"), [
    ('[providers.x]\nkind = "openai"\napi_key = "sk-live-123"\n', "keys never go in the catalog"),
    ('[providers.x]\nkind = "openai"\napi_key_env = "sk-live-123"\n', "NAME of an environment variable"),
    ('[providers.x]\nkind = "vertex"\n', "kind: must be one of bedrock, openai, azure, openai_compatible"),
    ('[providers.x]\nkind = "openai_compatible"\n', "base_url: required"),
    ('[providers.x]\nkind = "azure"\nbase_url = "https://a.openai.azure.com"\napi_key_env = "K"\n',
     "api_version: required"),
    ('[providers.x]\nkind = "openai"\nbase_url = "ftp://x"\n', "expected an http(s):// URL"),
    ('[providers.x]\nkind = "openai"\nregion = "us-east-1"\n', "unknown keys for kind openai"),
    ('[providers.bedrock]\nkind = "openai"\n', "built-in Bedrock provider"),
    ('[providers.x]\nkind = "openai"\nconnect_timeout_s = 0\n', "positive number of seconds"),
    ('[providers.x]\nkind = "bedrock"\nfirst_byte_timeout_s = 5\n', "unknown keys for kind bedrock"),
    ('[models.m]\ndeployments = []\n', "non-empty list"),
    ('[models.m]\ndeployments = [ { provider = "nope", model = "m" } ]\n', "declared providers"),
    ('[models.m]\nbedrock_id = "a"\ndeployments = [ { provider = "bedrock", model = "m" } ]\n', "not both"),
    ('[models.m]\ndeployments = [ { provider = "bedrock", model = "m", weight = -1 } ]\n', "non-negative"),
    ('[models.m]\ndeployments = [ { provider = "bedrock", model = "m", colour = "red" } ]\n', "keys from"),
    ('[models.m]\ndeployments = [ { provider = "bedrock", model = "m", region = "mars" } ]\n', "AWS region"),
    ('[providers.az]\nkind = "azure"\nbase_url = "https://a.openai.azure.com"\napi_key_env = "K"\n'
     'api_version = "2024-10-21"\n[models.m]\ndeployments = [ { provider = "az", model = "gpt-4o" } ]\n',
     "names its deployment"),
    ('[providers.l]\nkind = "openai_compatible"\nbase_url = "http://x/v1"\n[models.m]\nbedrock_id = "a"\n'
     'provider = "l"\n', "use deployments"),
])
def test_malformed_providers_are_startup_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(tmp_path, text)


def test_azure_v1_path_needs_no_api_version_or_deployment(tmp_path: Path) -> None:
    catalog = load(tmp_path, '[providers.az]\nkind = "azure"\npath = "v1"\nauth = "bearer"\n'
                             'base_url = "https://a.openai.azure.com/openai/v1"\napi_key_env = "AZ_TOKEN"\n'
                             '[models.m]\ndeployments = [ { provider = "az", model = "gpt-4o" } ]\n')
    config = catalog.providers["az"]
    assert (config.base_url, config.path, config.auth) == ("https://a.openai.azure.com", "v1", "bearer")


def test_deployment_prices_follow_their_own_region(tmp_path: Path) -> None:
    text = """
[providers.bedrock-eu]
kind = "bedrock"
region = "eu-central-1"
endpoint_url = "http://127.0.0.1:9999"

[models.m]
deployments = [ { provider = "bedrock", model = "anthropic.claude-3-haiku-20240307-v1:0" },
                { provider = "bedrock-eu", model = "anthropic.claude-3-haiku-20240307-v1:0" } ]
pricing = { input = "0.00025", output = "0.00125", regions = { "eu-central-1" = { input = "0.0003" } } }
"""
    catalog = load(tmp_path, text)
    home, eu = catalog.resolve("m").deployments
    assert home.price is not None and eu.price is not None
    assert (home.price.input, eu.price.input) == (Decimal("0.00025"), Decimal("0.0003"))
    assert catalog.providers["bedrock-eu"].endpoint_url == "http://127.0.0.1:9999"
