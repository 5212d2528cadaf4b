# --- deployment ------------------------------------------------------------------------------------

variable "environment" {
  description = "Deployment environment; also passed to the services as CHATHUB_ENV (it selects the queue names)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "project" {
  description = "Prefix of every resource name."
  type        = string
  default     = "chathub"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "aws_region" {
  description = "AWS region of the whole stack."
  type        = string
  default     = "eu-central-1"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "image_tag" {
  description = "Tag of the Chathub image in the ECR repository (e.g. the git commit); tags are immutable."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

# --- network ---------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC (a /16 is split into /24 subnets)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be a CIDR block such as 10.40.0.0/16."
  }
}

variable "az_count" {
  description = "Availability zones used (one public and one private subnet in each); RDS needs at least two."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per zone (resilient) instead of a single shared one (cheaper)."
  type        = bool
  default     = false
}

variable "metrics_scrape_cidrs" {
  description = "CIDR blocks allowed to scrape /metrics on the tasks (ports 9101-9102), e.g. a Prometheus in the VPC."
  type        = list(string)
  default     = []
}

# --- database --------------------------------------------------------------------------------------

variable "db_engine_version" {
  description = "PostgreSQL major version of the RDS instance."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Upper bound of RDS storage autoscaling in GiB."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Run a standby RDS instance in a second zone."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days RDS keeps automated backups."
  type        = number
  default     = 7
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (and take a final snapshot when it is deleted)."
  type        = bool
  default     = false
}

variable "db_name" {
  description = "Database name (POSTGRES_DB)."
  type        = string
  default     = "chathub"
}

variable "db_username" {
  description = "Master role of the RDS instance, used by datemaker (DATEMAKER_POSTGRES_USER)."
  type        = string
  default     = "datemaker"
}

# --- broker ----------------------------------------------------------------------------------------

variable "broker_engine_version" {
  description = "RabbitMQ version of the Amazon MQ broker."
  type        = string
  default     = "3.13"
}

variable "broker_instance_type" {
  description = "Amazon MQ instance type (mq.t3.micro is single-instance only; clusters need mq.m5.* or larger)."
  type        = string
  default     = "mq.t3.micro"
}

variable "broker_username" {
  description = "The broker user both services connect with (Amazon MQ does not allow guest)."
  type        = string
  default     = "chathub"
}

variable "rabbitmq_exchange" {
  description = "RABBITMQ_EXCHANGE: the direct exchange both services use."
  type        = string
  default     = "chathub_direct_main"
}

# --- services --------------------------------------------------------------------------------------

variable "datemaker_desired_count" {
  description = "Replicas of datemaker (instances coordinate through PostgreSQL)."
  type        = number
  default     = 1

  validation {
    condition     = var.datemaker_desired_count >= 1
    error_message = "datemaker_desired_count must be at least 1."
  }
}

variable "datemaker_cpu" {
  description = "Fargate CPU units of a datemaker task (1024 = one vCPU)."
  type        = number
  default     = 512
}

variable "datemaker_memory" {
  description = "Fargate memory (MiB) of a datemaker task."
  type        = number
  default     = 1024
}

variable "bot_cpu" {
  description = "Fargate CPU units of the bot task."
  type        = number
  default     = 256
}

variable "bot_memory" {
  description = "Fargate memory (MiB) of the bot task."
  type        = number
  default     = 512
}

variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the ECS cluster."
  type        = bool
  default     = false
}

variable "tg_api_base" {
  description = "TG_API_BASE: base URL of a Bot API server; empty for Telegram's own."
  type        = string
  default     = ""
}

variable "meet_api_endpoint" {
  description = "MEET_API_ENDPOINT: host:port of a Meet API server; empty for Google's own."
  type        = string
  default     = ""
}

variable "debug" {
  description = "DEBUG: debug logging in both services."
  type        = bool
  default     = false
}

# --- secrets and logs ------------------------------------------------------------------------------

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored (0 deletes at once)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the services' logs."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}
