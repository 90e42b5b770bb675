# DynamoDB tables, one per proxy/tables.py Table (tests/deploy compares them key by key, index by index).
# On-demand billing (traffic follows the gateway's), point-in-time recovery, KMS encryption.

resource "aws_dynamodb_table" "teams" {
  name                        = "${local.table_prefix}teams"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "team_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "team_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}

resource "aws_dynamodb_table" "keys" {
  name                        = "${local.table_prefix}keys"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "key_hash"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "key_hash"
    type = "S"
  }

  attribute {
    name = "key_id"
    type = "S"
  }

  attribute {
    name = "team_id"
    type = "S"
  }

  attribute {
    name = "created_at"
    type = "S"
  }

  global_secondary_index {
    name            = "key_id-index"
    hash_key        = "key_id"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "team_id-index"
    hash_key        = "team_id"
    range_key       = "created_at"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}

resource "aws_dynamodb_table" "usage" {
  name                        = "${local.table_prefix}usage"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "request_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "request_id"
    type = "S"
  }

  attribute {
    name = "team_id"
    type = "S"
  }

  attribute {
    name = "ts"
    type = "S"
  }

  global_secondary_index {
    name            = "team_id-ts-index"
    hash_key        = "team_id"
    range_key       = "ts"
    projection_type = "ALL"
  }

  # Raw records expire (LLM_GATEWAY_USAGE_RETENTION_DAYS); daily aggregates stay.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}

resource "aws_dynamodb_table" "usage_daily" {
  name                        = "${local.table_prefix}usage-daily"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "team_id"
  range_key                   = "day_model"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "team_id"
    type = "S"
  }

  attribute {
    name = "day_model"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}

resource "aws_dynamodb_table" "budget_alerts" {
  name                        = "${local.table_prefix}budget-alerts"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "alert_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "alert_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}

locals {
  dynamodb_tables = [
    aws_dynamodb_table.teams,
    aws_dynamodb_table.keys,
    aws_dynamodb_table.usage,
    aws_dynamodb_table.usage_daily,
    aws_dynamodb_table.budget_alerts,
  ]
}
