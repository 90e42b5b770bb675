# Redis (Valkey by default): the shared rate-limit, budget and auth-cache state of all tasks. TLS in
# transit (hence rediss:// in REDIS_URL), KMS at rest, AUTH token from Secrets Manager, private
# subnets, reachable only from the gateway tasks' security group.

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = local.private_subnet_ids
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "ElastiCache: Redis protocol from the gateway tasks only"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis (TLS) from gateway tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "LLM Gateway rate limits and budgets"
  engine                     = var.redis_engine
  engine_version             = var.redis_engine_version
  node_type                  = var.redis_node_type
  port                       = 6379
  num_cache_clusters         = var.redis_replicas + 1
  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.redis.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  auth_token                 = aws_secretsmanager_secret_version.redis_auth.secret_string
  auto_minor_version_upgrade = true
  apply_immediately          = false
  # Rate-limit windows and auth-cache entries live for seconds to a minute: a snapshot of them is
  # worthless, and taking one forks the primary.
  snapshot_retention_limit = 0
}
