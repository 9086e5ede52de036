# ecs-autoscaler as its own ECS service with exactly one task. Its one policy is rendered
# here from the names of what Terraform created (policy.tf) and read from S3; the image
# ships none. The status API is reachable from inside the VPC under a private DNS name.
#
# Issue 15 (leader election over DynamoDB, two tasks) changes desired_count, the
# deployment percentages and the state location; everything else here stays.

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' service key; a customer-managed KMS key is an operator choice.
  name              = "/ecs/${var.name}/ecs-autoscaler"
  retention_in_days = var.log_retention_days
}

# The API token reaches the container as ECS_AUTOSCALER_API_TOKEN (the execution role
# reads the secret when the task starts); the daemon compares `Authorization: Bearer`.
module "roles" {
  source     = "../task-roles"
  name       = "${var.name}-autoscaler"
  secret_arn = var.api_token_secret_arn
}

moved {
  from = aws_iam_role.execution
  to   = module.roles.aws_iam_role.execution
}

moved {
  from = aws_iam_role_policy_attachment.execution
  to   = module.roles.aws_iam_role_policy_attachment.execution
}

moved {
  from = aws_iam_role_policy.execution_secret
  to   = module.roles.aws_iam_role_policy.execution_secret
}

# Least privilege: read and update the one scaled service, read metrics, read the
# policy objects under one prefix of one bucket.
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

  statement {
    sid       = "ListPolicyObjects"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.policies.arn]
    condition {
      test     = "StringEquals"
      variable = "s3:prefix"
      values   = [var.policy_prefix]
    }
  }

  statement {
    sid       = "ReadPolicyObjects"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.policies.arn}/${var.policy_prefix}*"]
  }
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-autoscaler-task"
  assume_role_policy = module.roles.tasks_assume_policy
}

resource "aws_iam_role_policy" "task" {
  name   = "scale-search-service"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

locals {
  secrets = var.api_token_secret_arn == null ? [] : [{ name = "ECS_AUTOSCALER_API_TOKEN", valueFrom = var.api_token_secret_arn }]

  state_dir = "/var/lib/ecs-autoscaler"

  # The daemon's settings, as the task gets them (the token aside). Exported as an output
  # so a test can start the daemon exactly as the task would.
  environment = {
    ECS_AUTOSCALER_BACKEND        = "aws"
    ECS_AUTOSCALER_POLICIES_DIR   = local.policies_url
    ECS_AUTOSCALER_LISTEN         = "0.0.0.0:9090"
    ECS_AUTOSCALER_LOG_FORMAT     = "json"
    ECS_AUTOSCALER_STATE_FILE     = "${local.state_dir}/state.json"
    ECS_AUTOSCALER_HEARTBEAT_NAME = var.heartbeat_name
    AWS_REGION                    = var.region
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name}-autoscaler"
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

  # Task storage for the state file. The root filesystem is read-only, so the state
  # directory must be a volume; a Fargate bind mount is created root-owned 0755 unless
  # the image declares the same path as a VOLUME, in which case ECS copies the image's
  # directory, owner included. The Dockerfile creates /var/lib/ecs-autoscaler owned by
  # 65532:65532 (the distroless nonroot user the daemon runs as) and declares it a
  # VOLUME, so the daemon can write its state here. The state is lost with the task
  # (a replacement starts conservatively); issue 15 moves it to DynamoDB.
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
    environment            = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    secrets                = local.secrets
    mountPoints            = [{ sourceVolume = "state", containerPath = local.state_dir, readOnly = false }]
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
    description = "HTTPS to the AWS APIs (ECS, CloudWatch, S3) through the NAT gateways"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# autoscaler.<name>.internal
resource "aws_service_discovery_service" "this" {
  name          = "autoscaler"
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
  name            = "${var.name}-autoscaler"
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  launch_type     = "FARGATE"
  desired_count   = 1
  # Two copies must never run at once: the old task stops before the new one starts.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  # A new image or task definition that never gets healthy is rolled back to the last
  # one that did, instead of leaving the search service without its autoscaler.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this.arn
  }

  # The policy object must exist before the first task lists the prefix.
  depends_on = [aws_s3_object.policy, aws_iam_role_policy.task]
}
