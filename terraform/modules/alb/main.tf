# The public load balancer of the search service. HTTPS when a certificate is given.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public entry to the search service"
  vpc_id      = var.vpc_id

  ingress {
    #checkov:skip=CKV_AWS_260:A public web service must accept HTTP from anywhere (it redirects to HTTPS when a certificate is set).
    description = "HTTP from the internet"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "HTTPS from the internet"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "To the search tasks in the VPC"
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs need an S3 bucket with its own policy and lifecycle; left to the operator's logging account.
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is an operator decision (rules, cost); attach one with aws_wafv2_web_acl_association.
  #checkov:skip=CKV2_AWS_20:The HTTP listener redirects to HTTPS whenever certificate_arn is set; without a certificate there is no HTTPS to redirect to.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
}

resource "aws_lb_target_group" "search" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the tasks sit in private subnets behind it.
  name                 = "${var.name}-search"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/ready"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
    timeout             = 5
  }
}

# Only the public search routes reach the tasks. Everything else, /metrics and
# POST /products among them, gets a 404 from the load balancer itself; those stay
# reachable from inside the VPC (search.<name>.internal:8080). The target group's health
# check (/ready) goes from the load balancer to the tasks directly and needs no rule.
locals {
  not_found = jsonencode({ error = "not_found", message = "no such route" })
  # The listener that serves: HTTPS when a certificate is set (HTTP then only redirects).
  serving_listener_arn = var.certificate_arn == null ? aws_lb_listener.http.arn : aws_lb_listener.https[0].arn
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Plain HTTP is served only when no certificate is configured; with one, this listener redirects to HTTPS.
  #checkov:skip=CKV_AWS_103:Same listener: TLS policy applies to the HTTPS listener.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  dynamic "default_action" {
    for_each = var.certificate_arn == null ? [1] : []
    content {
      type = "fixed-response"
      fixed_response {
        content_type = "application/json"
        message_body = local.not_found
        status_code  = "404"
      }
    }
  }

  dynamic "default_action" {
    for_each = var.certificate_arn == null ? [] : [1]
    content {
      type = "redirect"
      redirect {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count             = var.certificate_arn == null ? 0 : 1
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = local.not_found
      status_code  = "404"
    }
  }
}

resource "aws_lb_listener_rule" "public_search" {
  listener_arn = local.serving_listener_arn
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.search.arn
  }

  condition {
    http_request_method {
      values = var.public_methods
    }
  }

  condition {
    path_pattern {
      values = var.public_paths
    }
  }
}
