locals {
  name    = "${var.project}-${var.environment}"
  is_prod = var.environment == "prod"

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  azs = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  # Amazon MQ: one broker in dev, a three-node cluster across zones in prod.
  broker_deployment_mode = local.is_prod ? "CLUSTER_MULTI_AZ" : "SINGLE_INSTANCE"
  broker_subnet_ids      = local.is_prod ? aws_subnet.private[*].id : [aws_subnet.private[0].id]
  # The AMQPS endpoint looks like amqps://b-1234.mq.eu-central-1.amazonaws.com:5671
  broker_host = split(":", trimprefix(aws_mq_broker.main.instances[0].endpoints[0], "amqps://"))[0]

  image = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
}
