# ecs-autoscaler as its own ECS service: two tasks (var.tasks) in different AZs, one
# leader and one follower, elected through a lease item in the DynamoDB state table
# (state.tf); only the leader scales. Its one policy is rendered here from the names of
# what Terraform created (policy.tf) and read from S3; the image ships none. The status
# API is reachable from inside the VPC under a private DNS name.

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

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # Where the daemon may publish its scaling events: the bus given, else the account's
  # default bus in this region.
  event_bus_arn = coalesce(var.event_bus_arn, "arn:${data.aws_partition.current.partition}:events:${var.region}:${data.aws_caller_identity.current.account_id}:event-bus/default")
}

# Least privilege: read and update the one scaled service, read metrics, read the
# policy objects under one prefix of one bucket, read and write the one state table,
# read (and suspend) Application Auto Scaling on it, publish to one event bus.
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

  # The table only (no index, no stream): history, journal and the leader lease.
  statement {
    sid = "StateTable"
    # Exactly what the daemon calls: the lease (UpdateItem, GetItem), histories (PutItem,
    # Query) and journal items (BatchWriteItem).
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:Query",
      "dynamodb:BatchWriteItem",
    ]
    resources = [aws_dynamodb_table.state.arn]
  }

  # Moving a service over from AWS's own scaler: read the scalable target, its scaling
  # policies and scheduled actions. The Describe actions support no resource-level
  # permissions; "*" is the only valid resource.
  statement {
    sid = "ReadApplicationAutoScaling"
    actions = [
      "application-autoscaling:DescribeScalableTargets",
      "application-autoscaling:DescribeScalingPolicies",
      "application-autoscaling:DescribeScheduledActions",
    ]
    resources = ["*"]
  }

  # Suspending and resuming AWS's dynamic scaling on the service's scalable target
  # (RegisterScalableTarget with SuspendedState), so the two scalers never both write
  # the desired count. A scalable target's ARN ends in an ID that AWS assigns at
  # registration (scalable-target/<id>), not in the service's name, so it cannot be
  # named here ahead of time: the statement allows this account's scalable targets in
  # this region (any service namespace: no condition key selects one). Tagging the
  # target and adding an aws:ResourceTag condition would narrow it to that target.
  statement {
    sid       = "SuspendApplicationAutoScaling"
    actions   = ["application-autoscaling:RegisterScalableTarget"]
    resources = ["arn:${data.aws_partition.current.partition}:application-autoscaling:${var.region}:${data.aws_caller_identity.current.account_id}:scalable-target/*"]
  }

  # Scaling events (actions, refusals, errors) for operators to route to chat or paging.
  statement {
    sid       = "PublishScalingEvents"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
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

  # The daemon's settings, as the task gets them (the token aside). Exported as an output
  # so a test can start the daemon exactly as the task would. The state lives in the
  # DynamoDB table (state.tf), not in the task: no state file, no volume.
  environment = {
    ECS_AUTOSCALER_BACKEND             = "aws"
    ECS_AUTOSCALER_POLICIES_DIR        = local.policies_url
    ECS_AUTOSCALER_LISTEN              = "0.0.0.0:9090"
    ECS_AUTOSCALER_LOG_FORMAT          = "json"
    ECS_AUTOSCALER_STATE_BACKEND       = "dynamodb"
    ECS_AUTOSCALER_DYNAMODB__TABLE     = aws_dynamodb_table.state.name
    ECS_AUTOSCALER_DYNAMODB__LEASE_TTL = var.lease_ttl
    ECS_AUTOSCALER_HEARTBEAT_NAME      = var.heartbeat_name
    AWS_REGION                         = var.region
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

  container_definitions = jsonencode([{
    name                   = "ecs-autoscaler"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    command                = ["/usr/local/bin/ecs-autoscaler", "run"]
    portMappings           = [{ containerPort = 9090, protocol = "tcp" }]
    environment            = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    secrets                = local.secrets
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
    description = "HTTPS to the AWS APIs (ECS, CloudWatch, S3, DynamoDB) through the NAT gateways"
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
  # A leader and a follower (the lease in the state table decides which is which; only
  # the leader scales). If the leader's task or AZ goes, the follower takes over once the
  # lease is not renewed within lease_ttl.
  desired_count = var.tasks
  # Rolling deploy that never has zero daemons: ECS rounds the minimum up, so with two
  # tasks one keeps running (with one, that one) until a new task is healthy; up to twice
  # the count run during the deploy. Extra tasks are followers, so running more than two
  # at once is safe.
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200
  # After an AZ outage, ECS moves a task back so the two are spread over both AZs again.
  availability_zone_rebalancing = "ENABLED"

  # A new image or task definition that never gets healthy is rolled back to the last
  # one that did, instead of leaving the search service without its autoscaler.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Fargate spreads a service's tasks over the AZs of its subnets by itself. The network
  # module gives one private subnet in each of two AZs (and the variable insists on two
  # subnets), so the leader and the follower run in different AZs.
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  # Both tasks register (MULTIVALUE): autoscaler.<namespace> answers with either one. The
  # service has no load balancer; the container health check (/healthz, liveness) is what
  # ECS watches, and a follower is as healthy as the leader.
  service_registries {
    registry_arn = aws_service_discovery_service.this.arn
  }

  # The policy object must exist before the first task lists the prefix, and the task
  # role must allow the table before the first task takes the lease.
  depends_on = [aws_s3_object.policy, aws_iam_role_policy.task]
}
