# Shared naming and lookups. The layout: an ALB in public subnets, N stateless Fargate tasks in private
# subnets sharing one ElastiCache replication group (rate limits) and the DynamoDB tables (keys,
# teams, usage), secrets in Secrets Manager, everything encrypted with one customer-managed KMS key.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  table_prefix = var.table_prefix != "" ? var.table_prefix : "${var.name}-"
  app_port     = 8080
  # Fargate gives each task ephemeral storage; the usage spool lives there (see README: durability).
  spool_dir = "/var/lib/llm-gateway/spool"
}
