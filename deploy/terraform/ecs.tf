# ECS Fargate: N identical, stateless gateway tasks. All shared state is in Redis and DynamoDB, so any
# task can serve any request and auto-scaling may add or remove tasks at will.

resource "aws_cloudwatch_log_group" "app" {
  #checkov:skip=CKV_AWS_338: Retention is the operator's choice (log_retention_days, 30 days by default); request logs carry no prompts.
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "LLM Gateway tasks: HTTP from the ALB; out to Redis and AWS APIs"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Gateway port from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = local.app_port
  to_port                      = local.app_port
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_redis" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Redis (TLS)"
  referenced_security_group_id = aws_security_group.redis.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_aws_apis" {
  #checkov:skip=CKV_AWS_382: Bedrock Runtime, Secrets Manager, CloudWatch Logs and the image registry have no fixed addresses; HTTPS only.
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (Bedrock, DynamoDB, Secrets Manager, Logs, ECR)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

locals {
  # Every name here is a field of proxy.settings.Settings (tests/deploy checks it).
  container_environment = {
    LLM_GATEWAY_HOST                    = "0.0.0.0"
    LLM_GATEWAY_PORT                    = tostring(local.app_port)
    WEB_CONCURRENCY                     = tostring(var.workers)
    AWS_REGION                          = var.region
    LLM_GATEWAY_STORE                   = "dynamodb"
    LLM_GATEWAY_DYNAMODB_TABLE_PREFIX   = local.table_prefix
    LLM_GATEWAY_DEFAULT_RPM             = tostring(var.rate_limit_rpm)
    LLM_GATEWAY_UPSTREAM_READ_TIMEOUT_S = "300"
    LLM_GATEWAY_USAGE_SPOOL_DIR         = local.spool_dir
    # Longer than the ALB's idle_timeout (alb.tf): the load balancer, not the gateway, must be the one
    # that closes an idle keep-alive connection, or a request sent on it as the gateway closes is a 502.
    LLM_GATEWAY_HTTP_KEEPALIVE_TIMEOUT_S = "340"
    # Drain: calls in flight get 25 s after SIGTERM (well inside stopTimeout below).
  }

  container = {
    name                   = "gateway"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    # Seconds between SIGTERM and SIGKILL: the usage recorder flushes its buffer in this window.
    stopTimeout  = 120
    portMappings = [{ containerPort = local.app_port, protocol = "tcp" }]
    environment  = [for k, v in local.container_environment : { name = k, value = v }]
    secrets = [for key, env in local.secret_env : {
      name      = env
      valueFrom = "${aws_secretsmanager_secret.app.arn}:${key}::"
    }]
    mountPoints = [
      { sourceVolume = "spool", containerPath = local.spool_dir, readOnly = false },
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.app_port}/health', timeout=3)"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 20
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "gateway"
      }
    }
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # Task-local scratch space (Fargate ephemeral storage); gone when the task stops.
  volume {
    name = "spool"
  }

  volume {
    name = "tmp"
  }
}

resource "aws_ecs_service" "this" {
  name                              = var.name
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this.arn
  desired_count                     = var.desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"

  network_configuration {
    subnets          = local.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container.name
    container_port   = local.app_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Auto-scaling owns the count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.http, aws_iam_role_policy.task]
}

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_count
  max_capacity       = var.max_count

  lifecycle {
    precondition {
      condition     = var.min_count <= var.desired_count && var.desired_count <= var.max_count
      error_message = "Need min_count <= desired_count <= max_count."
    }
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.this.arn_suffix}"
    }
  }
}
