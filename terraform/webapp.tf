# The Telegram Mini App over HTTPS: an internet-facing Application Load Balancer in the public subnets, TLS with
# an ACM certificate for var.webapp_domain, forwarding to the bot task's WEBAPP_PORT (8080) in the private
# subnets. Created only when var.webapp_certificate_arn is set; point the domain at the load balancer
# (output webapp_load_balancer_dns_name, a CNAME or a Route 53 alias), then the bot's WEBAPP_URL is
# https://<webapp_domain>/app/ and its menu button opens the Mini App.

variable "webapp_domain" {
  description = "Domain of the Mini App (e.g. dating.example.org); the bot's WEBAPP_URL is https://<domain>/app/. Empty: no URL (no menu button)."
  type        = string
  default     = ""
}

variable "webapp_certificate_arn" {
  description = "ARN of an ACM certificate for webapp_domain, in aws_region. Empty: no load balancer (the page is not reachable from the internet)."
  type        = string
  default     = ""
}

variable "webapp_ingress_cidrs" {
  description = "Who may reach the Mini App's load balancer (Telegram's clients are everyone's phones)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

locals {
  webapp_port    = 8080
  webapp_enabled = var.webapp_certificate_arn != ""
  webapp_url     = var.webapp_domain == "" ? "" : "https://${var.webapp_domain}/app/"
}

resource "aws_security_group" "webapp_lb" {
  count = local.webapp_enabled ? 1 : 0

  name        = "${local.name}-webapp-lb"
  description = "Chathub Mini App load balancer: HTTPS from the internet, to the bot only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-webapp-lb" }
}

resource "aws_vpc_security_group_ingress_rule" "webapp_lb" {
  # HTTPS to the Mini App, and HTTP (redirected to HTTPS), from each allowed block
  for_each = local.webapp_enabled ? {
    for pair in setproduct([80, 443], var.webapp_ingress_cidrs) : "${pair[0]} ${pair[1]}" => pair
  } : {}

  security_group_id = aws_security_group.webapp_lb[0].id
  description       = each.value[0] == 443 ? "HTTPS to the Mini App" : "HTTP, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = each.value[0]
  to_port           = each.value[0]
  cidr_ipv4         = each.value[1]
}

resource "aws_vpc_security_group_egress_rule" "webapp_lb_to_bot" {
  count = local.webapp_enabled ? 1 : 0

  security_group_id            = aws_security_group.webapp_lb[0].id
  description                  = "To the bot's Mini App port"
  ip_protocol                  = "tcp"
  from_port                    = local.webapp_port
  to_port                      = local.webapp_port
  referenced_security_group_id = aws_security_group.services.id
}

resource "aws_vpc_security_group_ingress_rule" "services_webapp_from_lb" {
  count = local.webapp_enabled ? 1 : 0

  security_group_id            = aws_security_group.services.id
  description                  = "The Mini App, from its load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = local.webapp_port
  to_port                      = local.webapp_port
  referenced_security_group_id = aws_security_group.webapp_lb[0].id
}

resource "aws_lb" "webapp" {
  count = local.webapp_enabled ? 1 : 0

  name                       = "${local.name}-webapp"
  internal                   = false
  load_balancer_type         = "application"
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.webapp_lb[0].id]
  drop_invalid_header_fields = true
  idle_timeout               = 60
}

resource "aws_lb_target_group" "webapp" {
  count = local.webapp_enabled ? 1 : 0

  name                 = "${local.name}-webapp"
  port                 = local.webapp_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 10

  health_check {
    path                = "/app/"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "webapp_https" {
  count = local.webapp_enabled ? 1 : 0

  load_balancer_arn = aws_lb.webapp[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.webapp_certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.webapp[0].arn
  }
}

resource "aws_lb_listener" "webapp_http" {
  count = local.webapp_enabled ? 1 : 0

  load_balancer_arn = aws_lb.webapp[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

output "webapp_load_balancer_dns_name" {
  description = "Point webapp_domain here (CNAME, or a Route 53 alias); empty without webapp_certificate_arn."
  value       = one(aws_lb.webapp[*].dns_name)
}
