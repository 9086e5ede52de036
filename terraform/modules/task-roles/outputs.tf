output "execution_role_arn" {
  description = "The execution role, for the task definition's execution_role_arn."
  value       = aws_iam_role.execution.arn
}

output "tasks_assume_policy" {
  description = "The trust policy that lets ECS tasks assume a role, for task roles."
  value       = data.aws_iam_policy_document.tasks_assume.json
}
