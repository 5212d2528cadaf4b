# datemaker and the bot on ECS Fargate, from the one image; plus a one-off migration task.
#   datemaker: var.datemaker_desired_count replicas (instances coordinate through PostgreSQL).
#   bot:       exactly one task, ever: Telegram allows one poller per token.
#   migrate:   a task definition only; run it with the command in the `migrate_run_command` output.

locals {
  # Settings of both services (PROTOCOL.md section 1). Optional ones are left out when empty, so the
  # services fall back to their own defaults.
  common_environment = {
    CHATHUB_ENV           = var.environment
    RABBITMQ_HOST         = local.broker_host
    RABBITMQ_PORT         = "5671" # Amazon MQ: AMQPS only
    RABBITMQ_VIRTUAL_HOST = "/"
    RABBITMQ_EXCHANGE     = var.rabbitmq_exchange
    DEBUG                 = tostring(var.debug)
  }

  datemaker_environment = merge(
    local.common_environment,
    {
      POSTGRES_HOST               = aws_db_instance.main.address
      POSTGRES_PORT               = tostring(aws_db_instance.main.port)
      POSTGRES_DB                 = var.db_name
      DATEMAKER_POSTGRES_USER     = var.db_username
      DATEMAKER_RABBITMQ_USERNAME = var.broker_username
      METRICS_PORT                = "9101"
    },
    var.meet_api_endpoint == "" ? {} : { MEET_API_ENDPOINT = var.meet_api_endpoint },
  )

  bot_environment = merge(
    local.common_environment,
    {
      TG_BOT_RABBITMQ_USERNAME = var.broker_username
      METRICS_PORT             = "9102"
      WEBAPP_HOST              = "0.0.0.0" # the Mini App, for its load balancer (terraform/webapp.tf)
      WEBAPP_PORT              = tostring(local.webapp_port)
    },
    var.tg_api_base == "" ? {} : { TG_API_BASE = var.tg_api_base },
    local.webapp_url == "" ? {} : { WEBAPP_URL = local.webapp_url },
  )

  # Environment variable -> Secrets Manager ARN, injected by ECS when a task starts.
  datemaker_secrets = {
    DATEMAKER_POSTGRES_PASSWORD = local.secret_arns.database_password
    DATEMAKER_RABBITMQ_PASSWORD = local.secret_arns.broker_password
    MEET_TOKEN_JSON             = local.secret_arns.meet_token # written to MEET_TOKEN_FILE by the image
  }

  migrate_secrets = {
    DATEMAKER_POSTGRES_PASSWORD = local.secret_arns.database_password
  }

  bot_secrets = {
    TG_BOT_TOKEN             = local.secret_arns.tg_bot_token
    TG_BOT_RABBITMQ_PASSWORD = local.secret_arns.broker_password
  }

  # The image's own health check (docker/healthcheck.py: GET /healthz on METRICS_PORT).
  container_health_check = {
    command     = ["CMD", "python", "/usr/local/bin/chathub-healthcheck"]
    interval    = 30
    timeout     = 5
    retries     = 3
    startPeriod = 60
  }
}

resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }
}

# --- datemaker -------------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "datemaker" {
  family                   = "${local.name}-datemaker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.datemaker_cpu
  memory                   = var.datemaker_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name         = "datemaker"
      image        = local.image
      essential    = true
      command      = ["python", "-m", "datemaker", "serve"]
      environment  = [for name, value in local.datemaker_environment : { name = name, value = value }]
      secrets      = [for name, arn in local.datemaker_secrets : { name = name, valueFrom = arn }]
      portMappings = [{ name = "metrics", containerPort = 9101, protocol = "tcp" }]
      healthCheck  = local.container_health_check
      stopTimeout  = 60
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.datemaker.name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = "datemaker"
        }
      }
    }
  ])
}

resource "aws_ecs_service" "datemaker" {
  name             = "datemaker"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.datemaker.arn
  desired_count    = var.datemaker_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  # Rolling update: new tasks start before old ones stop.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.services.id]
    assign_public_ip = false
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
}

# --- bot -------------------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "bot" {
  family                   = "${local.name}-bot"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.bot_cpu
  memory                   = var.bot_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name        = "bot"
      image       = local.image
      essential   = true
      command     = ["python", "-m", "chathub_bot"]
      environment = [for name, value in local.bot_environment : { name = name, value = value }]
      secrets     = [for name, arn in local.bot_secrets : { name = name, valueFrom = arn }]
      portMappings = [
        { name = "metrics", containerPort = 9102, protocol = "tcp" },
        { name = "webapp", containerPort = local.webapp_port, protocol = "tcp" },
      ]
      healthCheck = local.container_health_check
      stopTimeout = 30
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.bot.name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = "bot"
        }
      }
    }
  ])
}

resource "aws_ecs_service" "bot" {
  name             = "bot"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.bot.arn
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  # Telegram allows one getUpdates poller per token: exactly one task, and a deployment stops the
  # old task before it starts the new one (never two at once; a short gap is the price).
  desired_count                      = 1
  deployment_maximum_percent         = 100
  deployment_minimum_healthy_percent = 0
  health_check_grace_period_seconds  = local.webapp_enabled ? 60 : null

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The Mini App's load balancer sends HTTPS traffic to the bot's WEBAPP_PORT (terraform/webapp.tf).
  dynamic "load_balancer" {
    for_each = aws_lb_target_group.webapp
    content {
      target_group_arn = load_balancer.value.arn
      container_name   = "bot"
      container_port   = local.webapp_port
    }
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.services.id]
    assign_public_ip = false
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
}

# --- migration (one-off) ---------------------------------------------------------------------------

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${local.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name        = "migrate"
      image       = local.image
      essential   = true
      command     = ["python", "-m", "datemaker", "migrate"]
      environment = [for name, value in local.datemaker_environment : { name = name, value = value }]
      secrets     = [for name, arn in local.migrate_secrets : { name = name, valueFrom = arn }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.migrate.name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = "migrate"
        }
      }
    }
  ])
}
