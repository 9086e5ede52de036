# ecs-autoscaler as its own ECS service with exactly one task. Its policies ship in the
# image (/etc/ecs-autoscaler/policies). The status API is reachable from inside the VPC
# by default, under a private DNS name.

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' service key; a customer-managed KMS key is an operator choice.
  name              = "/ecs/${var.name}/ecs-autoscaler"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-autoscaler-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secret" {
  count = var.api_token_secret_arn == null ? 0 : 1
  name  = "read-api-token"
  role  = aws_iam_role.execution.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = var.api_token_secret_arn }]
  })
}

# Least privilege: read and update the one scaled service, read metrics.
data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ScaleTheSearchService"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [var.scaled_service_arn]
  }

  statement {
    #checkov:skip=CKV_AWS_356:cloudwatch:GetMetricData supports no resource-level permissions; "*" is the only valid resource.
    sid       = "ReadMetrics"
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-autoscaler-task"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

resource "aws_iam_role_policy" "task" {
  name   = "scale-search-service"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

locals {
  secrets = var.api_token_secret_arn == null ? [] : [{ name = "ECS_AUTOSCALER_API_TOKEN", valueFrom = var.api_token_secret_arn }]
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name}-autoscaler"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  volume {
    name = "state"
  }

  container_definitions = jsonencode([{
    name                   = "ecs-autoscaler"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    command                = ["/usr/local/bin/ecs-autoscaler", "run"]
    portMappings           = [{ containerPort = 9090, protocol = "tcp" }]
    environment = [
      { name = "ECS_AUTOSCALER_BACKEND", value = "aws" },
      { name = "ECS_AUTOSCALER_POLICIES_DIR", value = "/etc/ecs-autoscaler/policies" },
      { name = "ECS_AUTOSCALER_LISTEN", value = "0.0.0.0:9090" },
      { name = "ECS_AUTOSCALER_LOG_FORMAT", value = "json" },
      { name = "ECS_AUTOSCALER_STATE_FILE", value = "/var/lib/ecs-autoscaler/state.json" },
      { name = "AWS_REGION", value = var.region },
    ]
    secrets     = local.secrets
    mountPoints = [{ sourceVolume = "state", containerPath = "/var/lib/ecs-autoscaler", readOnly = false }]
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/ecs-autoscaler", "healthcheck", "--url", "http://127.0.0.1:9090/healthz"]
      interval    = 15
      timeout     = 3
      retries     = 3
      startPeriod = 10
    }
    stopTimeout = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "autoscaler"
      }
    }
  }])
}

resource "aws_security_group" "this" {
  name        = "${var.name}-autoscaler"
  description = "ecs-autoscaler: status API from inside the VPC"
  vpc_id      = var.vpc_id

  ingress {
    description = "Status API"
    from_port   = 9090
    to_port     = 9090
    protocol    = "tcp"
    cidr_blocks = length(var.status_allowed_cidrs) > 0 ? var.status_allowed_cidrs : [var.vpc_cidr]
  }

  egress {
    description = "HTTPS to the AWS APIs through the NAT gateways"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name = "${var.name}.internal"
  vpc  = var.vpc_id
}

resource "aws_service_discovery_service" "this" {
  name = "autoscaler"
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      ttl  = 10
      type = "A"
    }
  }
}

resource "aws_ecs_service" "this" {
  name            = "${var.name}-autoscaler"
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  launch_type     = "FARGATE"
  desired_count   = 1
  # Two copies must never run at once: the old task stops before the new one starts.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this.arn
  }
}
