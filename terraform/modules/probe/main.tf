# A one-shot task for reaching the internal endpoints from inside the VPC without a
# bastion, SSH or ECS Exec (the distroless images have no shell): `aws ecs run-task`
# starts it in the private subnets with a command override, it runs curl against
# autoscaler.<name>.internal:9090 or search.<name>.internal:8080, prints the answer to
# its log stream and stops. It costs nothing while it is not running (Fargate bills
# a minimum of one minute per run). docs/DEPLOY.md has the exact commands.
#
# With the API token configured, the probe gets it the same way the daemon does
# (Secrets Manager -> ECS secret -> environment variable), so mutating calls can send
# `Authorization: Bearer $ECS_AUTOSCALER_API_TOKEN` without the token ever being
# typed or printed.

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' service key; a customer-managed KMS key is an operator choice.
  name              = "/ecs/${var.name}/probe"
  retention_in_days = var.log_retention_days
}

module "roles" {
  source     = "../task-roles"
  name       = "${var.name}-probe"
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

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name}-probe"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = module.roles.execution_role_arn
  # No task role: the probe calls no AWS API.

  container_definitions = jsonencode([{
    name                   = "probe"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    # The default command reads the autoscaler's status; run-task overrides it.
    command = ["curl", "-sS", "--max-time", "10", var.default_url]
    secrets = var.api_token_secret_arn == null ? [] : [{ name = "ECS_AUTOSCALER_API_TOKEN", valueFrom = var.api_token_secret_arn }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "probe"
      }
    }
  }])
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached at run time: aws ecs run-task (or a CloudShell VPC environment) names it; no long-lived resource uses it.
  name        = "${var.name}-probe"
  description = "Probe task: out to the internal endpoints and the AWS APIs, nothing in"
  vpc_id      = var.vpc_id

  egress {
    description = "Search tasks (every route)"
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description = "Autoscaler status API"
    from_port   = 9090
    to_port     = 9090
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description = "HTTPS for the image pull, logs and the secret through the NAT gateways"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
