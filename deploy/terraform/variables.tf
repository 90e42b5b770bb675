# Every variable has a description; the ones a typo could turn into a broken or unsafe deploy have
# validation blocks (tests/deploy checks both). No secret has a default: Terraform generates them.

variable "region" {
  description = "AWS region for every resource; Bedrock calls go to this region's Bedrock Runtime."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like an AWS region code, e.g. us-east-1."
  }
}

variable "name" {
  description = "Name prefix for all resources (ALB, cluster, tables, secrets, log group)."
  type        = string
  default     = "llm-gateway"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "table_prefix" {
  description = "DynamoDB table name prefix (LLM_GATEWAY_DYNAMODB_TABLE_PREFIX); empty means \"<name>-\"."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{0,200}$", var.table_prefix))
    error_message = "table_prefix may only contain letters, digits, '_', '.' and '-'."
  }
}

variable "image" {
  description = "Container image of the gateway built from deploy/Dockerfile, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/llm-gateway:0.1.0."
  type        = string

  validation {
    condition     = length(var.image) > 0 && !endswith(var.image, ":latest")
    error_message = "image must be set and pinned to a tag or digest other than :latest."
  }
}

variable "models" {
  description = "Bedrock model ids, cross-region inference profile ids (us./eu./apac./global. ...) or inference profile ARNs the gateway may invoke; IAM allows exactly these. Default: the bedrock_ids of proxy/catalog/catalog.toml."
  type        = list(string)
  default = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "meta.llama3-70b-instruct-v1:0",
    "mistral.mistral-large-2402-v1:0",
    "amazon.nova-pro-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-micro-v1:0",
    "amazon.titan-embed-text-v2:0",
    "cohere.embed-english-v3",
    "cohere.embed-multilingual-v3",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "us.anthropic.claude-opus-4-5-20251101-v1:0",
    "us.anthropic.claude-opus-4-1-20250805-v1:0",
    "us.anthropic.claude-sonnet-4-20250514-v1:0",
  ]

  validation {
    condition     = length(var.models) > 0 && alltrue([for m in var.models : can(regex("^(arn:aws[a-z-]*:bedrock:|[a-z0-9-]+\\.)[A-Za-z0-9._:/-]+$", m)) && m != "*"])
    error_message = "models must be a non-empty list of Bedrock model ids, inference profile ids or inference profile ARNs (no wildcards)."
  }
}

variable "default_model" {
  description = "Model alias from the catalog used in the example request printed by the curl_example output."
  type        = string
  default     = "claude-3-haiku"

  validation {
    condition     = can(regex("^[A-Za-z0-9._:-]+$", var.default_model))
    error_message = "default_model must be a model alias such as claude-3-haiku."
  }
}

variable "rate_limit_rpm" {
  description = "Default requests per minute per API key (LLM_GATEWAY_DEFAULT_RPM) for keys without their own limit."
  type        = number
  default     = 60

  validation {
    condition     = var.rate_limit_rpm > 0 && floor(var.rate_limit_rpm) == var.rate_limit_rpm
    error_message = "rate_limit_rpm must be a whole number greater than 0."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the gateway's and the VPC flow logs (0 = never expire)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' allowed values: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "desired_count" {
  description = "Gateway tasks started at first apply; auto-scaling moves it between min_count and max_count afterwards."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1
    error_message = "desired_count must be at least 1."
  }
}

variable "min_count" {
  description = "Minimum number of gateway tasks kept by auto-scaling."
  type        = number
  default     = 2

  validation {
    condition     = var.min_count >= 1
    error_message = "min_count must be at least 1."
  }
}

variable "max_count" {
  description = "Maximum number of gateway tasks auto-scaling may start."
  type        = number
  default     = 10

  validation {
    condition     = var.max_count >= 1 && var.max_count <= 1000
    error_message = "max_count must be between 1 and 1000."
  }
}

variable "cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB; must be a valid combination with cpu."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "workers" {
  description = "uvicorn worker processes per task (WEB_CONCURRENCY); about one per vCPU."
  type        = number
  default     = 1

  validation {
    condition     = var.workers >= 1 && var.workers <= 64
    error_message = "workers must be between 1 and 64."
  }
}

variable "cpu_target_percent" {
  description = "Target average CPU utilisation for the CPU scaling policy."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "Target ALB requests per task per minute for the ALBRequestCountPerTarget scaling policy."
  type        = number
  default     = 3000

  validation {
    condition     = var.requests_per_target > 0
    error_message = "requests_per_target must be greater than 0."
  }
}

variable "certificate_arn" {
  description = "ACM certificate ARN for an HTTPS listener (HTTP then redirects to HTTPS). Empty: plain HTTP only."
  type        = string
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be empty or an ACM certificate ARN."
  }
}

variable "allowed_cidrs" {
  description = "CIDR blocks allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_cidrs must be valid CIDR blocks."
  }
}

variable "internal_alb" {
  description = "Make the load balancer internal (reachable only inside the VPC)."
  type        = bool
  default     = false
}

variable "alb_access_logs_bucket" {
  description = "Existing S3 bucket for ALB access logs; empty disables them."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Protect the ALB and DynamoDB tables from deletion; false so that `terraform destroy` cleans up."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "Existing VPC to deploy into; empty creates a new VPC (with NAT) from vpc_cidr."
  type        = string
  default     = ""
}

variable "public_subnet_ids" {
  description = "With vpc_id: public subnets (two or more AZs) for the load balancer."
  type        = list(string)
  default     = []
}

variable "private_subnet_ids" {
  description = "With vpc_id: private subnets (two or more AZs, with a route to Bedrock) for tasks and Redis."
  type        = list(string)
  default     = []
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created when vpc_id is empty."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid CIDR block of /20 or larger."
  }
}

variable "az_count" {
  description = "Availability zones used by the created VPC."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper) instead of one per AZ (survives an AZ outage)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Create interface VPC endpoints for Bedrock Runtime, Secrets Manager and CloudWatch Logs (traffic stays off the NAT; about 7 USD per endpoint per AZ per month)."
  type        = bool
  default     = false
}

variable "redis_engine" {
  description = "ElastiCache engine: valkey (cheaper, Redis-compatible) or redis."
  type        = string
  default     = "valkey"

  validation {
    condition     = contains(["valkey", "redis"], var.redis_engine)
    error_message = "redis_engine must be valkey or redis."
  }
}

variable "redis_engine_version" {
  description = "ElastiCache engine version."
  type        = string
  default     = "7.2"
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"

  validation {
    condition     = can(regex("^cache\\.", var.redis_node_type))
    error_message = "redis_node_type must be an ElastiCache node type such as cache.t4g.small."
  }
}

variable "redis_replicas" {
  description = "Replicas besides the primary (in other AZs); at least 1, for Multi-AZ automatic failover."
  type        = number
  default     = 1

  validation {
    condition     = var.redis_replicas >= 1 && var.redis_replicas <= 5
    error_message = "redis_replicas must be between 1 and 5 (Multi-AZ failover needs a replica)."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
