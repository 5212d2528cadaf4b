# Chathub on AWS: one VPC, RDS PostgreSQL, Amazon MQ for RabbitMQ, datemaker and the bot on ECS
# Fargate, secrets in Secrets Manager, logs in CloudWatch, the image in ECR.
#
#   terraform init
#   terraform apply -var-file=environments/dev.tfvars -var image_tag=<git sha>
#
# State: keep it remote for a shared deployment, e.g. add `backend "s3" {}` below and pass
# `-backend-config` at init (one state per environment, e.g. with workspaces or separate keys).

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}
