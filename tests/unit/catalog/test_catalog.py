"""Model catalog: loading, validation at startup, raw ids, profile types and regional prices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from proxy.catalog.catalog import CatalogError, ModelCatalog, Price
from proxy.errors import ModelNotFound
from proxy.providers.bedrock.model_ids import base_model_id, billing_region, profile_type

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
ARN_EU = "arn:aws:bedrock:eu-central-1:123456789012:application-inference-profile/a1b2c3"

CATALOG = f"""
[models."haiku"]
bedrock_id = "{HAIKU}"
description = "Claude 3 Haiku"
pricing.input = "0.00025"
pricing.output = "0.00125"
pricing.cache_read = "0.00003"
pricing.geo_multiplier = "1.1"
pricing.regions."eu-central-1" = {{ input = "0.0003", output = "0.0015" }}
pricing.regions."ap-south-1" = {{ output = "0.002", geo_multiplier = "1.2" }}
capabilities = {{ tool_result_images = true }}

[models."haiku-eu-app"]
bedrock_id = "{ARN_EU}"
pricing = {{ input = "0.00025", output = "0.00125", regions = {{ "eu-central-1" = {{ input = "0.0004" }} }} }}

[models."nova-micro"]
bedrock_id = "amazon.nova-micro-v1:0"
pricing = {{ input = "0.000035", output = "0.00014" }}
capabilities = {{ vision = false }}

[models."no-price"]
bedrock_id = "mistral.mistral-7b-instruct-v0:2"
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def catalog_path(tmp_path: Path) -> str:
    return write(tmp_path, CATALOG)


# --- loading -------------------------------------------------------------------------------------------


def test_packaged_catalog_loads_and_prices_every_model() -> None:
    catalog = ModelCatalog.load()
    assert {"claude-3-haiku", "claude-3-5-haiku", "claude-3-7-sonnet", "llama3-70b", "mistral-large",
            "nova-pro", "nova-lite", "nova-micro"} <= set(catalog.entries)
    assert catalog.allow_raw_model_ids
    for entry in catalog.entries.values():
        assert entry.price is not None and entry.listed, entry.alias
        assert entry.price.regions == {}  # entries carry the flat price of the catalog's region


def test_packaged_catalog_regional_prices_differ_from_us_east_1() -> None:
    us = ModelCatalog.load(region="us-east-1").resolve("llama3-70b").price
    mumbai = ModelCatalog.load(region="ap-south-1").resolve("llama3-70b").price
    assert us is not None and mumbai is not None
    assert (us.input, us.output) == (Decimal("0.00265"), Decimal("0.0035"))
    assert (mumbai.input, mumbai.output) == (Decimal("0.00318"), Decimal("0.0042"))
    paris = ModelCatalog.load(region="eu-west-3").resolve("mistral-large").price
    assert paris is not None and (paris.input, paris.output) == (Decimal("0.0052"), Decimal("0.0156"))


def test_load_from_path(catalog_path: str) -> None:
    catalog = ModelCatalog.load(catalog_path)
    haiku = catalog.resolve("haiku")
    assert haiku.bedrock_id == HAIKU and haiku.description == "Claude 3 Haiku"
    assert haiku.capabilities.tool_result_images
    assert haiku.price == Price(input=Decimal("0.00025"), output=Decimal("0.00125"),
                                cache_read=Decimal("0.00003"), geo_multiplier=Decimal("1.1"))
    assert catalog.resolve("no-price").price is None
    assert not catalog.resolve("nova-micro").capabilities.vision


@pytest.mark.parametrize(("setting", "override", "expected"), [
    ("true", None, True), ("false", None, False), ("true", False, False), ("false", True, False),
])
def test_allow_raw_model_ids_setting_and_override(tmp_path: Path, setting: str, override: bool | None,
                                                  expected: bool) -> None:
    path = write(tmp_path, f"[settings]\nallow_raw_model_ids = {setting}\n" + CATALOG)
    assert ModelCatalog.load(path, allow_raw_model_ids=override).allow_raw_model_ids is expected


# --- validation: a malformed catalog fails at startup, naming the place --------------------------------

MODEL = '[models."m"]\nbedrock_id = "anthropic.claude-x-v1:0"\n'


@pytest.mark.parametrize(("text", "message"), [
    ("[models.\"m\"\n", "catalog.toml"),
    ('[models."m"]\ndescription = "x"\n', "models.m: bedrock_id is required"),
    (MODEL + 'pricing = { input = "1" }\n', "models.m.pricing: pricing needs input and output"),
    (MODEL + 'pricing = { input = "1", output = "1", price = "2" }\n', "unknown pricing keys ['price']"),
    (MODEL + 'pricing = { input = "-1", output = "1" }\n', "models.m.pricing.input: prices cannot be negative"),
    (MODEL + 'pricing = { input = "abc", output = "1" }\n', "models.m.pricing.input: 'abc' is not a number"),
    (MODEL + 'pricing = { input = "NaN", output = "1" }\n', "is not a number"),
    (MODEL + 'pricing = { input = "1", output = "inf" }\n', "models.m.pricing.output: 'inf' is not a number"),
    (MODEL + 'pricing = "cheap"\n', "models.m.pricing: must be a table of prices"),
    (MODEL + 'capabilities = { telepathy = true }\n', "models.m: unknown capabilities ['telepathy']"),
    (MODEL + 'pricing = { input = "1", output = "1", regions = "eu" }\n',
     "models.m.pricing.regions: must be a table of regions"),
    (MODEL + 'pricing = { input = "1", output = "1", regions = { "eu-central1" = { input = "2" } } }\n',
     "models.m.pricing.regions.eu-central1: not an AWS region name"),
    (MODEL + 'pricing = { input = "1", output = "1", regions = { "EU-CENTRAL-1" = { input = "2" } } }\n',
     "not an AWS region name"),
    (MODEL + 'pricing = { input = "1", output = "1", regions = { "eu-central-1" = { inptu = "2" } } }\n',
     "models.m.pricing.regions.eu-central-1: unknown pricing keys ['inptu']"),
    (MODEL + 'pricing = { input = "1", output = "1", regions = { "eu-central-1" = { input = "-2" } } }\n',
     "models.m.pricing.regions.eu-central-1.input: prices cannot be negative"),
    (MODEL + 'pricing = { input = "1", output = "1", regions = { "eu-central-1" = "2" } }\n',
     "models.m.pricing.regions.eu-central-1: must be a table of prices"),
    (MODEL + 'pricing = { input = "1", output = "1", regions = { "eu-central-1" = { regions = {} } } }\n',
     "unknown pricing keys ['regions']"),
])
def test_malformed_catalog_is_a_startup_error_with_the_path(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as exc:
        ModelCatalog.load(path)
    assert message in str(exc.value)
    assert path in str(exc.value)


def test_empty_regions_table_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, MODEL + 'pricing = { input = "1", output = "2", regions = {} }\n')
    assert ModelCatalog.load(path, region="eu-central-1").resolve("m").price == Price(Decimal(1), Decimal(2))


# --- raw Bedrock ids ---------------------------------------------------------------------------------------


def test_raw_id_inherits_price_and_capabilities_of_the_listed_model(catalog_path: str) -> None:
    catalog = ModelCatalog.load(catalog_path)
    for raw in (f"us.{HAIKU}", f"eu.{HAIKU}", f"global.{HAIKU}",
                f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"):
        entry = catalog.resolve(raw)
        assert entry.alias == raw and entry.bedrock_id == raw and not entry.listed
        assert entry.price == catalog.resolve("haiku").price
        assert entry.capabilities == catalog.resolve("haiku").capabilities
        assert entry.description == "Claude 3 Haiku"


def test_listed_bedrock_id_echoes_what_the_client_sent(catalog_path: str) -> None:
    entry = ModelCatalog.load(catalog_path).resolve(HAIKU)
    assert entry.alias == HAIKU and not entry.listed and entry.price is not None


def test_unlisted_raw_id_is_served_unpriced_with_guessed_capabilities(catalog_path: str) -> None:
    entry = ModelCatalog.load(catalog_path).resolve("meta.llama3-8b-instruct-v1:0")
    assert entry.price is None and not entry.listed
    assert not entry.capabilities.tools  # Llama 3 (not 3.1+) has no tool use on Bedrock


@pytest.mark.parametrize("name", ["gpt-4o", "not a model", "claude"])
def test_unknown_model_is_not_found(catalog_path: str, name: str) -> None:
    with pytest.raises(ModelNotFound):
        ModelCatalog.load(catalog_path).resolve(name)


def test_raw_ids_can_be_switched_off(catalog_path: str) -> None:
    catalog = ModelCatalog.load(catalog_path, allow_raw_model_ids=False)
    assert catalog.resolve("haiku").price is not None
    with pytest.raises(ModelNotFound):
        catalog.resolve(f"us.{HAIKU}")


# --- profile types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bedrock_id", "kind", "base"), [
    (HAIKU, "in-region", HAIKU),
    (f"us.{HAIKU}", "geo", HAIKU),
    (f"eu.{HAIKU}", "geo", HAIKU),
    (f"apac.{HAIKU}", "geo", HAIKU),
    (f"us-gov.{HAIKU}", "geo", HAIKU),
    (f"global.{HAIKU}", "global", HAIKU),
    (f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}", "in-region", HAIKU),
    (f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU}", "geo", HAIKU),
    (f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.{HAIKU}", "global", HAIKU),
    (ARN_EU, "in-region", "a1b2c3"),
])
def test_profile_type_and_base_model(bedrock_id: str, kind: str, base: str) -> None:
    assert profile_type(bedrock_id) == kind
    assert base_model_id(bedrock_id) == base


# --- regional prices ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bedrock_id", "default", "expected"), [
    (HAIKU, "eu-west-1", "eu-west-1"),
    (f"eu.{HAIKU}", "eu-west-1", "eu-west-1"),  # cross-region: billed in the source region
    (f"global.{HAIKU}", "ap-south-1", "ap-south-1"),
    (ARN_EU, "us-east-1", "eu-central-1"),  # an ARN carries its own region
    (f"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/{HAIKU}", None, "us-gov-west-1"),
    (f"arn:aws:bedrock:::foundation-model/{HAIKU}", "us-west-2", "us-west-2"),
    (HAIKU, None, None),
])
def test_billing_region(bedrock_id: str, default: str | None, expected: str | None) -> None:
    assert billing_region(bedrock_id, default) == expected


def test_price_for_region_merges_the_override_with_the_base() -> None:
    base = Price(input=Decimal("1"), output=Decimal("2"), cache_read=Decimal("0.1"), geo_multiplier=Decimal("1.1"))
    table = Price(input=base.input, output=base.output, cache_read=base.cache_read,
                  geo_multiplier=base.geo_multiplier,
                  regions={"eu-central-1": Price(input=Decimal("3"), output=Decimal("2"), cache_read=Decimal("0.1"),
                                                 geo_multiplier=Decimal("1.1"))})
    assert table.for_region("eu-central-1").input == Decimal("3")
    assert table.for_region("eu-central-1").regions == {}
    assert table.for_region("us-west-2") == base
    assert table.for_region(None) == base
    assert base.for_region("eu-central-1") is base  # no table: the same price everywhere


def test_price_stays_backward_compatible() -> None:
    price = Price(Decimal("0.003"), Decimal("0.015"))
    assert price.cache_read is None and price.geo_multiplier == 1 and price.regions == {}
    assert hash(price) == hash(Price(Decimal("0.003"), Decimal("0.015")))
    assert "regions" not in repr(price)


def test_catalog_built_for_a_region_returns_that_regions_price(catalog_path: str) -> None:
    frankfurt = ModelCatalog.load(catalog_path, region="eu-central-1")
    assert frankfurt.region == "eu-central-1"
    haiku = frankfurt.resolve("haiku").price
    assert haiku is not None
    assert (haiku.input, haiku.output) == (Decimal("0.0003"), Decimal("0.0015"))
    assert haiku.cache_read == Decimal("0.00003")  # not overridden: the base price
    assert haiku.geo_multiplier == Decimal("1.1")
    # A cross-region profile sent to eu-central-1 is billed at eu-central-1's price.
    assert frankfurt.resolve(f"eu.{HAIKU}").price == haiku
    assert frankfurt.resolve(f"global.{HAIKU}").price == haiku
    # A region without an override keeps the base price.
    assert ModelCatalog.load(catalog_path, region="us-west-2").resolve("haiku").price == \
        ModelCatalog.load(catalog_path).resolve("haiku").price


def test_multipliers_can_be_overridden_per_region(catalog_path: str) -> None:
    mumbai = ModelCatalog.load(catalog_path, region="ap-south-1").resolve(f"apac.{HAIKU}").price
    assert mumbai is not None
    assert (mumbai.input, mumbai.output, mumbai.geo_multiplier) == (Decimal("0.00025"), Decimal("0.002"),
                                                                    Decimal("1.2"))


def test_application_profile_arn_is_priced_in_its_own_region(catalog_path: str) -> None:
    for region in (None, "us-east-1", "eu-central-1"):
        price = ModelCatalog.load(catalog_path, region=region).resolve("haiku-eu-app").price
        assert price is not None and price.input == Decimal("0.0004") and price.output == Decimal("0.00125")


def test_raw_arn_inherits_the_price_of_its_own_region(catalog_path: str) -> None:
    catalog = ModelCatalog.load(catalog_path, region="us-east-1")
    raw = catalog.resolve(f"arn:aws:bedrock:eu-central-1::foundation-model/{HAIKU}").price
    assert raw is not None and raw.input == Decimal("0.0003")
    assert catalog.resolve(f"us.{HAIKU}").price.input == Decimal("0.00025")  # type: ignore[union-attr]


def test_regions_as_full_toml_tables(tmp_path: Path) -> None:
    path = write(tmp_path, MODEL + '\n[models."m".pricing]\ninput = "1"\noutput = "2"\n\n'
                 '[models."m".pricing.regions."eu-central-1"]\ninput = "3"\nglobal_multiplier = "0.9"\n')
    price = ModelCatalog.load(path, region="eu-central-1").resolve("m").price
    assert price == Price(Decimal(3), Decimal(2), global_multiplier=Decimal("0.9"))


def test_regions_cannot_extend_an_inline_pricing_table(tmp_path: Path) -> None:
    path = write(tmp_path, MODEL + 'pricing = { input = "1", output = "2" }\n\n'
                 '[models."m".pricing.regions."eu-central-1"]\ninput = "3"\n')
    with pytest.raises(CatalogError, match="Cannot declare"):
        ModelCatalog.load(path)


def test_regions_without_a_list_price_are_reported(catalog_path: str, tmp_path: Path) -> None:
    for region in ("us-east-1", "us-west-2", None):  # base-price regions, or no region at all
        assert ModelCatalog.load(catalog_path, region=region).unverified_prices() == []
    # "haiku" has overrides for eu-central-1 and ap-south-1, "nova-micro" none; "haiku-eu-app" is an ARN
    # billed in its own region (eu-central-1, overridden); "no-price" is unpriced anyway (another alert).
    assert ModelCatalog.load(catalog_path, region="eu-central-1").unverified_prices() == ["nova-micro"]
    assert ModelCatalog.load(catalog_path, region="ap-south-1").unverified_prices() == ["nova-micro"]
    assert ModelCatalog.load(catalog_path, region="sa-east-1").unverified_prices() == ["haiku", "nova-micro"]
    packaged = ModelCatalog.load(region="eu-central-2").unverified_prices()
    assert "claude-3-haiku" in packaged
    custom = tmp_path / "c.toml"
    custom.write_text('[settings]\nbase_price_regions = ["eu-west-1"]\n[models.m]\n'
                      'bedrock_id = "meta.llama3-8b-instruct-v1:0"\npricing = { input = "1", output = "1" }\n')
    assert ModelCatalog.load(str(custom), region="eu-west-1").unverified_prices() == []
    assert ModelCatalog.load(str(custom), region="us-east-1").unverified_prices() == ["m"]
    custom.write_text('[settings]\nbase_price_regions = "us-east-1"\n')
    with pytest.raises(CatalogError, match="base_price_regions"):
        ModelCatalog.load(str(custom))
