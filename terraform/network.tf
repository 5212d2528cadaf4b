# A VPC with a public and a private subnet per zone. Everything runs in the private subnets; they
# reach Telegram, Google and ECR through NAT. Nothing accepts connections from the internet.

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.name }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = { Name = local.name }
}

resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id                  = aws_vpc.main.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, count.index)
  map_public_ip_on_launch = false

  tags = { Name = "${local.name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 100 + count.index)

  tags = { Name = "${local.name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_eip" "nat" {
  count = var.nat_gateway_per_az ? var.az_count : 1

  domain = "vpc"

  tags = { Name = "${local.name}-nat-${count.index}" }
}

resource "aws_nat_gateway" "main" {
  count = var.nat_gateway_per_az ? var.az_count : 1

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = { Name = "${local.name}-${count.index}" }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }

  tags = { Name = "${local.name}-public" }
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.main.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main[var.nat_gateway_per_az ? count.index : 0].id
  }

  tags = { Name = "${local.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# --- security groups -------------------------------------------------------------------------------

# The VPC's default group allows nothing: every resource gets one of the groups below.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-default-deny" }
}

# The tasks (datemaker, bot, migration): no inbound traffic but optional metrics scraping.
resource "aws_security_group" "services" {
  name        = "${local.name}-services"
  description = "Chathub ECS tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-services" }
}

resource "aws_vpc_security_group_egress_rule" "services_all" {
  security_group_id = aws_security_group.services.id
  description       = "Telegram, Google, ECR, Secrets Manager, CloudWatch, RDS and Amazon MQ"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "services_metrics" {
  for_each = toset(var.metrics_scrape_cidrs)

  security_group_id = aws_security_group.services.id
  description       = "Prometheus scraping /metrics (datemaker 9101, bot 9102)"
  ip_protocol       = "tcp"
  from_port         = 9101
  to_port           = 9102
  cidr_ipv4         = each.value
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "Chathub PostgreSQL: from the tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-database" }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_services" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the Chathub tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.services.id
}

resource "aws_security_group" "broker" {
  name        = "${local.name}-broker"
  description = "Chathub RabbitMQ: from the tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-broker" }
}

resource "aws_vpc_security_group_ingress_rule" "broker_amqps_from_services" {
  security_group_id            = aws_security_group.broker.id
  description                  = "AMQPS from the Chathub tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5671
  to_port                      = 5671
  referenced_security_group_id = aws_security_group.services.id
}

resource "aws_vpc_security_group_ingress_rule" "broker_console_from_services" {
  security_group_id            = aws_security_group.broker.id
  description                  = "RabbitMQ management API (HTTPS) from the Chathub tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.services.id
}
