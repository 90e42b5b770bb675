"""IAM in deploy/terraform is least privilege: exact Bedrock model ARNs, own tables, own secret."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.deploy.terraform_model import TerraformModel, as_list, load_terraform

# The only expressions a Bedrock/DynamoDB statement may use as resources; each is checked below.
SCOPED_RESOURCE_LISTS = {
    "${distinct(local.model_arns)}",
    "${local.model_arns}",
    "${local.table_arns}",
    "${local.index_arns}",
}


@pytest.fixture(scope="module")
def tf() -> TerraformModel:
    return load_terraform()


def statements(tf: TerraformModel) -> Iterator[tuple[str, dict]]:
    for name, doc in tf.data.get("aws_iam_policy_document", {}).items():
        for statement in as_list(doc.get("statement")):
            yield name, statement


def is_guarded_service(action: str) -> bool:
    return action.split(":", 1)[0].lower() in {"bedrock", "dynamodb"}


def test_policy_documents_exist(tf: TerraformModel) -> None:
    assert {"task", "execution_secrets"} <= set(tf.data["aws_iam_policy_document"])


def test_no_action_wildcards_for_bedrock_or_dynamodb(tf: TerraformModel) -> None:
    for name, statement in statements(tf):
        for action in as_list(statement.get("actions")):
            if is_guarded_service(action) or action == "*":
                assert "*" not in action, f"{name}: wildcard action {action}"
    for text in tf.files.values():
        assert not re.search(r'"(bedrock|dynamodb):\*"', text)


def test_no_star_resources_for_bedrock_or_dynamodb(tf: TerraformModel) -> None:
    for name, statement in statements(tf):
        if not any(is_guarded_service(a) for a in as_list(statement.get("actions"))):
            continue
        resources = statement["resources"]
        if isinstance(resources, str):
            assert resources in SCOPED_RESOURCE_LISTS, f"{name}: unexpected resource list {resources}"
        else:
            assert all(r not in {"*", "arn:aws:bedrock:*", "arn:aws:dynamodb:*"} for r in resources)
        assert "not_resources" not in statement


def test_task_role_bedrock_statement_is_exactly_invoke(tf: TerraformModel) -> None:
    by_sid = {s["sid"]: s for _, s in statements(tf) if "sid" in s}
    invoke = by_sid["InvokeConfiguredModels"]
    assert sorted(invoke["actions"]) == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert "model_arns" in invoke["resources"]


def string_literals_starting(expression: str, prefix: str) -> list[str]:
    """HCL string templates in an expression that start with prefix; quotes inside ${} are skipped."""
    found = []
    for start in (m.start() + 1 for m in re.finditer(f'"{re.escape(prefix)}', expression)):
        depth, pos = 0, start
        while depth or expression[pos] != '"':
            depth += {"{": 1, "}": -1}.get(expression[pos], 0)
            pos += 1
        found.append(expression[start:pos])
    return found


def model_arn_templates(tf: TerraformModel) -> list[str]:
    return string_literals_starting(tf.locals["model_arns"], "arn:${")


def test_model_arns_name_each_model_exactly(tf: TerraformModel) -> None:
    templates = model_arn_templates(tf)
    assert len(templates) == 3, templates  # profile, its foundation models, plain foundation model
    for arn in templates:
        parts = arn.split(":", 5)
        assert parts[2] == "bedrock"
        resource = parts[5]
        assert re.fullmatch(r"(foundation-model|inference-profile)/\$\{.*\bm\b.*\}", resource), arn
        # "*" may only stand in the region field of a foundation-model ARN (cross-region profiles).
        assert "*" not in resource and "*" not in parts[4]
        assert parts[3] in {"${var.region}", "*"}
        if parts[3] == "*":
            assert resource.startswith("foundation-model/")
    # An ARN given in var.models is used verbatim, and validation refuses a bare "*".
    assert 'startswith(m, "arn:") ? [m]' in tf.locals["model_arns"]
    assert 'm != "*"' in tf.variables["models"]["validation"][0]["condition"]


def test_dynamodb_resources_are_own_tables_and_indexes(tf: TerraformModel) -> None:
    assert tf.locals["table_arns"] == "${[for t in local.dynamodb_tables : t.arn]}"
    assert tf.locals["index_arns"] == '${[for t in local.dynamodb_tables : "${t.arn}/index/*"]}'


def test_secrets_read_only_own_secret(tf: TerraformModel) -> None:
    for name, statement in statements(tf):
        actions = as_list(statement.get("actions"))
        if any(a.startswith("secretsmanager:") for a in actions):
            assert actions == ["secretsmanager:GetSecretValue"], name
            assert statement["resources"] == ["${aws_secretsmanager_secret.app.arn}"], name


def test_kms_use_is_limited_to_one_key_through_a_service(tf: TerraformModel) -> None:
    for name, statement in statements(tf):
        if any(a.startswith("kms:") for a in as_list(statement.get("actions"))):
            assert statement["resources"] == ["${aws_kms_key.this.arn}"], name
            (condition,) = as_list(statement["condition"])
            assert condition["variable"] == "kms:ViaService"


def test_roles_are_assumed_by_ecs_tasks_of_this_account(tf: TerraformModel) -> None:
    for role in ("task", "execution"):
        body = tf.resource("aws_iam_role", role)
        assert body["assume_role_policy"] == "${data.aws_iam_policy_document.ecs_tasks_assume.json}"
    (statement,) = as_list(tf.data["aws_iam_policy_document"]["ecs_tasks_assume"]["statement"])
    assert statement["principals"][0]["identifiers"] == ["ecs-tasks.amazonaws.com"]
    assert statement["condition"][0]["variable"] == "aws:SourceAccount"


def test_task_definition_uses_separate_task_and_execution_roles(tf: TerraformModel) -> None:
    task_def = tf.resource("aws_ecs_task_definition", "this")
    assert task_def["task_role_arn"] == "${aws_iam_role.task.arn}"
    assert task_def["execution_role_arn"] == "${aws_iam_role.execution.arn}"
