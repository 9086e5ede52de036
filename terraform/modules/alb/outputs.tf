output "dns_name" {
  description = "Public DNS name."
  value       = aws_lb.this.dns_name
}

output "base_url" {
  description = "Base URL of the service through the load balancer."
  value       = "${var.certificate_arn == null ? "http" : "https"}://${aws_lb.this.dns_name}"
}

output "security_group_id" {
  description = "Security group of the load balancer (the tasks accept traffic from it)."
  value       = aws_security_group.alb.id
}

output "target_group_arn" {
  description = "Target group of the search tasks (health check: /ready)."
  value       = aws_lb_target_group.search.arn
}

output "arn_suffix" {
  description = "CloudWatch's LoadBalancer dimension value."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "CloudWatch's TargetGroup dimension value, for request-based policies."
  value       = aws_lb_target_group.search.arn_suffix
}

output "public_routes" {
  description = "What the public listener forwards; everything else gets a 404 from the load balancer."
  value       = { methods = var.public_methods, paths = var.public_paths }
}
