# Secrets in AWS Secrets Manager, injected into the tasks as environment variables by ECS.
#
# Terraform generates the database and broker passwords. The Telegram token and the Meet token are
# created empty and filled in by an operator (so that they never enter the Terraform state):
#   aws secretsmanager put-secret-value --secret-id <tg_bot_token secret> --secret-string '<token>'
#   aws secretsmanager put-secret-value --secret-id <meet_token secret> --secret-string file://token.json
# A task whose secret has no value yet fails to start and is retried by its service.
# After changing a value, restart the services (force a new deployment): ECS reads secrets at start.

resource "random_password" "database" {
  length  = 32
  special = false # RDS forbids / @ " and spaces; letters and digits keep the DSN simple too
}

resource "random_password" "broker" {
  length  = 32
  special = false # Amazon MQ forbids commas, colons and equal signs
}

resource "aws_secretsmanager_secret" "database_password" {
  name                    = "${local.name}/datemaker-postgres-password"
  description             = "DATEMAKER_POSTGRES_PASSWORD: the RDS master password datemaker connects with"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "database_password" {
  secret_id     = aws_secretsmanager_secret.database_password.id
  secret_string = random_password.database.result
}

resource "aws_secretsmanager_secret" "broker_password" {
  name                    = "${local.name}/rabbitmq-password"
  description             = "DATEMAKER_RABBITMQ_PASSWORD and TG_BOT_RABBITMQ_PASSWORD: the Amazon MQ user's password"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "broker_password" {
  secret_id     = aws_secretsmanager_secret.broker_password.id
  secret_string = random_password.broker.result
}

resource "aws_secretsmanager_secret" "tg_bot_token" {
  name                    = "${local.name}/tg-bot-token"
  description             = "TG_BOT_TOKEN: the Telegram bot token from @BotFather (set by an operator)"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret" "meet_token" {
  name                    = "${local.name}/meet-token"
  description             = "MEET_TOKEN_JSON: the token.json written by `python -m datemaker meet-login` (set by an operator)"
  recovery_window_in_days = var.secret_recovery_window_days
}

locals {
  # Every secret a task reads; the execution role may read exactly these.
  secret_arns = {
    database_password = aws_secretsmanager_secret.database_password.arn
    broker_password   = aws_secretsmanager_secret.broker_password.arn
    tg_bot_token      = aws_secretsmanager_secret.tg_bot_token.arn
    meet_token        = aws_secretsmanager_secret.meet_token.arn
  }
}
