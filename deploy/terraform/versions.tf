terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.74+ knows engine = "valkey" for ElastiCache replication groups.
      version = ">= 5.74, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
  }

  # State holds the generated secrets (as every random_password does): keep it in an encrypted,
  # access-controlled backend, e.g.
  # backend "s3" { bucket = "my-tf-state" key = "llm-gateway.tfstate" region = "us-east-1" encrypt = true }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = "llm-gateway", ManagedBy = "terraform" }, var.tags)
  }
}
