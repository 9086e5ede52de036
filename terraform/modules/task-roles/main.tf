# The IAM every ECS task of this deployment starts with: a trust policy for ECS tasks,
# and an execution role that pulls the image, writes the log stream and, when a secret
# is given, reads it for the task's environment. Task roles (what the container itself
# may call) stay with their modules; they reuse the trust policy exported here.

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
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# A secret reaches the container as an environment variable: ECS reads it with the
# execution role when the task starts.
resource "aws_iam_role_policy" "execution_secret" {
  count = var.secret_arn == null ? 0 : 1
  name  = "read-api-token"
  role  = aws_iam_role.execution.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = var.secret_arn }]
  })
}
