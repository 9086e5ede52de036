output "task_definition_family" {
  description = "Task definition family of the probe (run-task takes the latest revision)."
  value       = aws_ecs_task_definition.this.family
}

output "security_group_id" {
  description = "Security group of the probe (also usable for a CloudShell VPC environment)."
  value       = aws_security_group.this.id
}

output "log_group" {
  description = "Where the probe's output goes (stream probe/probe/<task id>)."
  value       = aws_cloudwatch_log_group.this.name
}

output "network_configuration" {
  description = "The --network-configuration argument of aws ecs run-task, as JSON."
  value = jsonencode({
    awsvpcConfiguration = {
      subnets        = var.private_subnet_ids
      securityGroups = [aws_security_group.this.id]
      assignPublicIp = "DISABLED"
    }
  })
}
