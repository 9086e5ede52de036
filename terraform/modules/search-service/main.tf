# The search service on Fargate. Its desired count belongs to ecs-autoscaler after
# creation: Terraform ignores it, and there is no Application Auto Scaling policy here,
# because two writers of desiredCount fight each other.
#
# Two ways in: the public load balancer (the search routes only, see modules/alb), and
# search.<name>.internal:8080 from inside the VPC for everything, /metrics and
# POST /products included.

locals {
  emf_namespace = "SearchService"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' service key; a customer-managed KMS key is an operator choice.
  name              = "/ecs/${var.name}/search-service"
  retention_in_days = var.log_retention_days
}

module "roles" {
  source = "../task-roles"
  name   = "${var.name}-search"
}

moved {
  from = aws_iam_role.execution
  to   = module.roles.aws_iam_role.execution
}

moved {
  from = aws_iam_role_policy_attachment.execution
  to   = module.roles.aws_iam_role_policy_attachment.execution
}

# The service calls no AWS API: its metrics leave through the log driver as EMF.
resource "aws_iam_role" "task" {
  name               = "${var.name}-search-task"
  assume_role_policy = module.roles.tasks_assume_policy
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name}-search"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = module.roles.execution_role_arn
  task_role_arn            = aws_iam_role.task.arn

  # The image is built for x86_64 (Dockerfile: --platform=linux/amd64).
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "search"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    command                = ["/usr/local/bin/search-service"]
    portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    environment = [
      { name = "SEARCH_LISTEN", value = "0.0.0.0:8080" },
      { name = "SEARCH_EMF", value = "true" },
      { name = "SEARCH_EMF_NAMESPACE", value = local.emf_namespace },
      # The autoscaler's rendered policy reads LatencyP99 with this same dimension.
      { name = "SEARCH_EMF_DIMENSIONS", value = "Service=${var.emf_service}" },
      { name = "SEARCH_LOG_FORMAT", value = "json" },
      { name = "SEARCH_SHUTDOWN_DEADLINE", value = "20s" },
    ]
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/search-service", "healthcheck", "--url", "http://127.0.0.1:8080/health"]
      interval    = 10
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
        awslogs-stream-prefix = "search"
      }
    }
  }])
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-search-tasks"
  description = "Search tasks: traffic from the load balancer only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "From the load balancer"
    from_port       = 8080
    to_port         = 8080
    protocol        = "tcp"
    security_groups = [var.alb_security_group_id]
  }

  ingress {
    description = "Internal endpoints (/metrics, POST /products) from inside the VPC"
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = length(var.internal_allowed_cidrs) > 0 ? var.internal_allowed_cidrs : [var.vpc_cidr]
  }

  egress {
    description = "HTTPS for image pulls and logs through the NAT gateways"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# search.<name>.internal: one A record per running task.
resource "aws_service_discovery_service" "this" {
  name          = "search"
  force_destroy = true
  dns_config {
    namespace_id   = var.namespace_id
    routing_policy = "MULTIVALUE"
    dns_records {
      ttl  = 10
      type = "A"
    }
  }
}

resource "aws_ecs_service" "this" {
  name                               = "${var.name}-search"
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  launch_type                        = "FARGATE"
  desired_count                      = var.initial_count
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "search"
    container_port   = 8080
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this.arn
  }

  lifecycle {
    # ecs-autoscaler owns the count: an apply must never undo its scaling.
    ignore_changes = [desired_count]
  }
}
