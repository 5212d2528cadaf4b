# CloudWatch log groups of the tasks, with a retention period (nothing is kept forever).

resource "aws_cloudwatch_log_group" "datemaker" {
  name              = "/chathub/${var.environment}/datemaker"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "bot" {
  name              = "/chathub/${var.environment}/bot"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "migrate" {
  name              = "/chathub/${var.environment}/migrate"
  retention_in_days = var.log_retention_days
}

# RDS exports the PostgreSQL log here (created first, so that it gets a retention period).
resource "aws_cloudwatch_log_group" "database" {
  for_each = toset(local.db_log_exports)

  name              = "/aws/rds/instance/${local.db_identifier}/${each.key}"
  retention_in_days = var.log_retention_days
}

# Amazon MQ writes its general log to /aws/amazonmq/broker/<broker id>/general, a group it creates
# itself (its name is known only once the broker exists): this policy lets it write there.
data "aws_iam_policy_document" "broker_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:*:*:log-group:/aws/amazonmq/*"]

    principals {
      type        = "Service"
      identifiers = ["mq.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "broker" {
  policy_name     = "${local.name}-amazonmq-logs"
  policy_document = data.aws_iam_policy_document.broker_logs.json
}
