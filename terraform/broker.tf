# RabbitMQ on Amazon MQ: a single broker in dev, a three-node cluster across zones in prod.
# Amazon MQ listens on AMQPS (TLS) port 5671 only.

resource "aws_mq_broker" "main" {
  broker_name        = "${local.name}-rabbitmq"
  engine_type        = "RabbitMQ"
  engine_version     = var.broker_engine_version
  host_instance_type = var.broker_instance_type
  deployment_mode    = local.broker_deployment_mode

  publicly_accessible        = false
  subnet_ids                 = local.broker_subnet_ids
  security_groups            = [aws_security_group.broker.id]
  auto_minor_version_upgrade = true
  apply_immediately          = !local.is_prod

  user {
    username = var.broker_username
    password = random_password.broker.result
  }

  logs {
    general = true
  }

  maintenance_window_start_time {
    day_of_week = "SUNDAY"
    time_of_day = "04:00"
    time_zone   = "UTC"
  }

  depends_on = [aws_cloudwatch_log_resource_policy.broker]
}
