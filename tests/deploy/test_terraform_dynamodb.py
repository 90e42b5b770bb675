"""The DynamoDB tables in deploy/terraform are exactly the ones proxy/tables.py describes."""

from __future__ import annotations

import pytest

from proxy.tables import ALL_TABLES, Table
from tests.deploy.terraform_model import TerraformModel, as_list, load_terraform

TABLE_NAME_PREFIX = "${local.table_prefix}"


@pytest.fixture(scope="module")
def tf() -> TerraformModel:
    return load_terraform()


def tables_by_suffix(tf: TerraformModel) -> dict[str, dict]:
    by_suffix = {}
    for name, body in tf.of_type("aws_dynamodb_table").items():
        assert body["name"].startswith(TABLE_NAME_PREFIX), f"{name}: table name must use local.table_prefix"
        by_suffix[body["name"].removeprefix(TABLE_NAME_PREFIX)] = body
    return by_suffix


def test_one_terraform_table_per_code_table(tf: TerraformModel) -> None:
    assert sorted(tables_by_suffix(tf)) == sorted(t.suffix for t in ALL_TABLES)


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.suffix)
def test_keys_and_attribute_types_match(tf: TerraformModel, table: Table) -> None:
    body = tables_by_suffix(tf)[table.suffix]
    assert body["hash_key"] == table.hash_key
    assert body.get("range_key") == table.range_key
    declared = {a["name"]: a["type"] for a in as_list(body.get("attribute"))}
    # DynamoDB rejects attribute definitions that no key or index uses, so they must match exactly.
    assert declared == table.attribute_types


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.suffix)
def test_global_secondary_indexes_match(tf: TerraformModel, table: Table) -> None:
    body = tables_by_suffix(tf)[table.suffix]
    declared = {
        gsi["name"]: (gsi["hash_key"], gsi.get("range_key"), gsi["projection_type"])
        for gsi in as_list(body.get("global_secondary_index"))
    }
    expected = {ix.name: (ix.hash_key, ix.range_key, "ALL") for ix in table.indexes}
    assert declared == expected


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.suffix)
def test_ttl_matches(tf: TerraformModel, table: Table) -> None:
    ttl = as_list(tables_by_suffix(tf)[table.suffix].get("ttl"))
    if table.ttl_attribute is None:
        assert ttl == []
    else:
        assert ttl == [{"attribute_name": table.ttl_attribute, "enabled": True}]


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.suffix)
def test_on_demand_pitr_and_kms_encryption(tf: TerraformModel, table: Table) -> None:
    body = tables_by_suffix(tf)[table.suffix]
    assert body["billing_mode"] == "PAY_PER_REQUEST"
    assert as_list(body["point_in_time_recovery"]) == [{"enabled": True}]
    (sse,) = as_list(body["server_side_encryption"])
    assert sse["enabled"] is True
    assert sse["kms_key_arn"] == "${aws_kms_key.this.arn}"


def test_every_table_is_in_the_iam_table_list(tf: TerraformModel) -> None:
    refs = tf.locals["dynamodb_tables"]
    listed = {ref.removeprefix("${aws_dynamodb_table.").removesuffix("}") for ref in refs}
    assert listed == set(tf.of_type("aws_dynamodb_table"))


def test_table_prefix_reaches_the_app(tf: TerraformModel) -> None:
    env = tf.locals["container_environment"]
    assert env["LLM_GATEWAY_DYNAMODB_TABLE_PREFIX"] == "${local.table_prefix}"
