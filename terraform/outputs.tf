output "ecr_repository_url" {
  description = "Push the image here: docker build -f docker/Dockerfile -t <url>:<image_tag> . && docker push <url>:<image_tag>"
  value       = aws_ecr_repository.app.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the services."
  value       = aws_ecs_cluster.main.name
}

output "ecs_cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.main.arn
}

output "datemaker_service_name" {
  description = "ECS service of datemaker."
  value       = aws_ecs_service.datemaker.name
}

output "bot_service_name" {
  description = "ECS service of the bot (one task)."
  value       = aws_ecs_service.bot.name
}

output "migrate_task_definition_arn" {
  description = "Task definition of the one-off migration (python -m datemaker migrate)."
  value       = aws_ecs_task_definition.migrate.arn
}

output "migrate_run_command" {
  description = "Runs the migration once, in the private subnets."
  value = join(" ", [
    "aws ecs run-task --region ${var.aws_region} --cluster ${aws_ecs_cluster.main.name}",
    "--launch-type FARGATE --task-definition ${aws_ecs_task_definition.migrate.arn}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", aws_subnet.private[*].id)}],securityGroups=[${aws_security_group.services.id}],assignPublicIp=DISABLED}'",
  ])
}

output "database_endpoint" {
  description = "PostgreSQL host:port (reachable from the tasks' security group only)."
  value       = aws_db_instance.main.endpoint
}

output "database_arn" {
  description = "ARN of the RDS instance."
  value       = aws_db_instance.main.arn
}

output "broker_amqps_endpoint" {
  description = "AMQPS endpoint of the RabbitMQ broker."
  value       = aws_mq_broker.main.instances[0].endpoints[0]
}

output "broker_console_url" {
  description = "RabbitMQ management console (from inside the VPC)."
  value       = aws_mq_broker.main.instances[0].console_url
}

output "broker_arn" {
  description = "ARN of the Amazon MQ broker."
  value       = aws_mq_broker.main.arn
}

output "secret_arns" {
  description = "Secrets Manager ARNs; tg_bot_token and meet_token need a value from an operator."
  value       = local.secret_arns
}

output "log_groups" {
  description = "CloudWatch log groups of the tasks."
  value = {
    datemaker = aws_cloudwatch_log_group.datemaker.name
    bot       = aws_cloudwatch_log_group.bot.name
    migrate   = aws_cloudwatch_log_group.migrate.name
  }
}

output "vpc_id" {
  description = "VPC of the stack."
  value       = aws_vpc.main.id
}

output "private_subnet_ids" {
  description = "Private subnets of the tasks, the database and the broker."
  value       = aws_subnet.private[*].id
}

output "services_security_group_id" {
  description = "Security group of the tasks (for one-off tasks such as the migration)."
  value       = aws_security_group.services.id
}
