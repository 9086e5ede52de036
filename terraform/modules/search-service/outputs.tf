output "service_arn" {
  description = "ARN of the ECS service (what the autoscaler may update)."
  value       = aws_ecs_service.this.id
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "internal_url" {
  description = "Base URL of the tasks from inside the VPC (every route, /metrics included)."
  value       = "http://${aws_service_discovery_service.this.name}.${var.namespace_name}:8080"
}

output "emf_namespace" {
  description = "CloudWatch namespace of the service's EMF metrics."
  value       = local.emf_namespace
}

output "emf_dimensions" {
  description = "Dimensions of the service's EMF metrics."
  value       = { Service = var.emf_service }
}
