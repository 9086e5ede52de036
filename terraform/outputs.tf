output "alb_dns_name" {
  description = "Public DNS name of the load balancer in front of the search service."
  value       = module.alb.dns_name
}

output "search_url" {
  description = "Search endpoint through the load balancer."
  value       = "${module.alb.base_url}/products/search?q=alpha"
}

output "status_url" {
  description = "The autoscaler's status API; resolvable and reachable from inside the VPC."
  value       = module.autoscaler.status_url
}

output "search_service_name" {
  description = "ECS service the autoscaler scales."
  value       = module.search_service.service_name
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.cluster.name
}
