output "status_url" {
  description = "Status API under the private DNS name (from inside the VPC)."
  value       = "http://${aws_service_discovery_service.this.name}.${aws_service_discovery_private_dns_namespace.this.name}:9090/v1/status"
}

output "task_role_arn" {
  description = "The autoscaler's task role."
  value       = aws_iam_role.task.arn
}
