# Application Load Balancer: HTTPS when certificate_arn is given (HTTP then only redirects), plain HTTP
# otherwise. idle_timeout covers the longest silence in a stream: the gateway sends SSE keep-alive
# comments every LLM_GATEWAY_STREAM_KEEPALIVE_S, and the upstream read timeout is 300 s.

locals {
  https          = var.certificate_arn != ""
  listener_ports = local.https ? [80, 443] : [80]
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "LLM Gateway load balancer"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  #checkov:skip=CKV_AWS_260: The gateway is a public API by default; narrow it with allowed_cidrs or internal_alb.
  for_each          = { for pair in setproduct(var.allowed_cidrs, local.listener_ports) : "${pair[0]}:${pair[1]}" => pair }
  security_group_id = aws_security_group.alb.id
  description       = "Clients on port ${each.value[1]}"
  cidr_ipv4         = each.value[0]
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To gateway tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = local.app_port
  to_port                      = local.app_port
}

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28: WAF is optional and priced per request; attach a web ACL with aws_wafv2_web_acl_association if needed (README).
  #checkov:skip=CKV_AWS_91: Access logs need an S3 bucket policy for the regional ELB account; enabled by setting alb_access_logs_bucket.
  #checkov:skip=CKV_AWS_150: Off by default so that `terraform destroy` cleans up, as the quick start promises; set deletion_protection = true in production.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = var.internal_alb
  subnets                    = var.internal_alb ? local.private_subnet_ids : local.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = 330
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.alb_access_logs_bucket != "" ? [var.alb_access_logs_bucket] : []
    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378: TLS ends at the ALB; tasks sit in private subnets and accept traffic from the ALB's security group only.
  name        = var.name
  port        = local.app_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = local.vpc_id
  # Scale-in and deploys let in-flight streams finish before the task is stopped.
  deregistration_delay = 300

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2: Without certificate_arn plain HTTP is the only option (documented); with it this listener only redirects to HTTPS.
  #checkov:skip=CKV_AWS_103: Same listener: TLS settings live on the HTTPS listener, created when certificate_arn is set.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https ? "redirect" : "forward"
    target_group_arn = local.https ? null : aws_lb_target_group.this.arn

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count             = local.https ? 1 : 0
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}
