output "api_endpoint" {
  description = "Base URL of the OpenAI-compatible API (use as OPENAI_BASE_URL)."
  value       = "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}/v1"
}

output "demo_api_key" {
  description = "API key of the \"demo\" team, created by the gateway at startup. Read it with: terraform output -raw demo_api_key"
  value       = local.demo_api_key
  sensitive   = true
}

output "curl_example" {
  description = "A first request against the deployed gateway."
  value       = "curl ${local.https ? "https" : "http"}://${aws_lb.this.dns_name}/v1/chat/completions -H \"Authorization: Bearer $(terraform output -raw demo_api_key)\" -H 'Content-Type: application/json' -d '{\"model\": \"${var.default_model}\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}'"
}

output "table_names" {
  description = "DynamoDB table names, by proxy/tables.py suffix."
  value       = { for t in local.dynamodb_tables : trimprefix(t.name, local.table_prefix) => t.name }
}

output "redis_endpoint" {
  description = "ElastiCache primary endpoint (TLS and AUTH required; the full URL is in the app secret)."
  value       = "${aws_elasticache_replication_group.this.primary_endpoint_address}:${aws_elasticache_replication_group.this.port}"
}

output "app_secret_arn" {
  description = "Secrets Manager secret with admin_key, key_pepper, demo_key and redis_url (JSON)."
  value       = aws_secretsmanager_secret.app.arn
}

output "log_group" {
  description = "CloudWatch log group of the gateway tasks."
  value       = aws_cloudwatch_log_group.app.name
}

output "ecs_cluster" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service" {
  description = "ECS service name."
  value       = aws_ecs_service.this.name
}
