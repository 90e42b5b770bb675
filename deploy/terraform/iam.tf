# IAM, least privilege. The task role may invoke exactly the configured models/profiles and use exactly
# its own tables; the execution role may read exactly the gateway's secret. No "*" resource for Bedrock
# or DynamoDB actions, no service-wide action wildcards (tests/deploy checks every policy document).

locals {
  # Cross-region inference profile ids start with a geography: us., eu., apac., global. ...
  profile_prefix = "^(us|us-gov|eu|apac|jp|au|ca|global)\\."
  model_arns = flatten([for m in var.models : (
    startswith(m, "arn:") ? [m] :
    can(regex(local.profile_prefix, m)) ? [
      "arn:${local.partition}:bedrock:${var.region}:${local.account_id}:inference-profile/${m}",
      # A profile routes to the model in any region of its geography: the documented ARN form for that
      # puts "*" in the region field only; the model is still named exactly.
      "arn:${local.partition}:bedrock:*::foundation-model/${replace(m, "/^[a-z-]+\\./", "")}",
    ] :
    ["arn:${local.partition}:bedrock:${var.region}::foundation-model/${m}"]
  )])
  table_arns = [for t in local.dynamodb_tables : t.arn]
  index_arns = [for t in local.dynamodb_tables : "${t.arn}/index/*"]
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- task role: what the gateway itself calls ----------------------------------------------------
resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-task-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "InvokeConfiguredModels"
    actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    resources = distinct(local.model_arns)
  }

  statement {
    sid = "OwnTables"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:DescribeTable",
    ]
    resources = local.table_arns
  }

  statement {
    sid       = "OwnTableIndexes"
    actions   = ["dynamodb:Query", "dynamodb:Scan"]
    resources = local.index_arns
  }

  statement {
    sid       = "TableEncryptionKeyThroughDynamoDB"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "gateway"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- execution role: what ECS does to start the task ------------------------------------------------
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# Image pull from ECR and the awslogs driver; ecr:GetAuthorizationToken has no resource-level scope.
resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadGatewaySecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.app.arn]
  }

  statement {
    sid       = "DecryptGatewaySecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# --- VPC flow logs -----------------------------------------------------------------------------------
data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  count              = local.create_vpc ? 1 : 0
  name_prefix        = "${var.name}-flow-"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  count = local.create_vpc ? 1 : 0
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  count  = local.create_vpc ? 1 : 0
  name   = "flow-logs"
  role   = aws_iam_role.flow_logs[0].id
  policy = data.aws_iam_policy_document.flow_logs[0].json
}
