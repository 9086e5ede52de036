output "alb_dns_name" {
  description = "Public DNS name of the load balancer in front of the search service."
  value       = module.alb.dns_name
}

output "search_url" {
  description = "Search endpoint through the load balancer."
  value       = "${module.alb.base_url}/products/search?q=alpha"
}

output "public_routes" {
  description = "What the public load balancer forwards to the search tasks; every other request gets a 404 JSON answer from the load balancer."
  value       = module.alb.public_routes
}

output "alb_arn_suffix" {
  description = "CloudWatch's LoadBalancer dimension (app/NAME/ID), as the rendered policy's load_balancer."
  value       = module.alb.arn_suffix
}

output "target_group_arn_suffix" {
  description = "CloudWatch's TargetGroup dimension (targetgroup/NAME/ID), as the rendered policy's target_group."
  value       = module.alb.target_group_arn_suffix
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.cluster.name
}

output "search_service_name" {
  description = "ECS service the autoscaler scales."
  value       = module.search_service.service_name
}

output "search_internal_url" {
  description = "The search tasks from inside the VPC: every route, /metrics and POST /products included."
  value       = module.search_service.internal_url
}

output "status_url" {
  description = "The autoscaler's status API; resolvable and reachable from inside the VPC."
  value       = module.autoscaler.status_url
}

output "autoscaler_internal_url" {
  description = "Base URL of the autoscaler's status API from inside the VPC (/v1/status, /metrics, /v1/reload)."
  value       = module.autoscaler.internal_url
}

output "autoscaler_service_name" {
  description = "ECS service of the autoscaler."
  value       = module.autoscaler.service_name
}

output "autoscaler_log_group" {
  description = "The autoscaler's log group (decisions, errors, EMF heartbeat)."
  value       = module.autoscaler.log_group
}

output "autoscaler_policy" {
  description = "The policy Terraform rendered and uploaded."
  value       = module.autoscaler.policy
}

output "autoscaler_policy_s3_uri" {
  description = "The rendered policy's S3 object (aws s3 cp it to edit, see docs/DEPLOY.md)."
  value       = module.autoscaler.policy_s3_uri
}

output "autoscaler_policies_url" {
  description = "The prefix the autoscaler reads its policies from (ECS_AUTOSCALER_POLICIES_DIR)."
  value       = module.autoscaler.policies_url
}

output "autoscaler_environment" {
  description = "The autoscaler's environment in its task, the API token aside: enough to start the same daemon elsewhere."
  value       = module.autoscaler.environment
}

output "autoscaler_state_table_name" {
  description = "The autoscaler's DynamoDB state table: history, decision journal and the leader lease."
  value       = module.autoscaler.state_table_name
}

output "autoscaler_state_table_arn" {
  description = "ARN of the autoscaler's state table."
  value       = module.autoscaler.state_table_arn
}

output "autoscaler_alarms" {
  description = "CloudWatch alarms on the autoscaler's heartbeat."
  value       = module.autoscaler.alarm_names
}

output "autoscaler_dashboard_url" {
  description = "The CloudWatch dashboard of the search service and its autoscaler (docs/DEPLOY.md, \"Dashboards\"); null when cloudwatch_dashboard is false."
  value       = module.autoscaler.dashboard_name == null ? null : "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards/dashboard/${module.autoscaler.dashboard_name}"
}

output "probe_task_definition" {
  description = "Task definition family of the in-VPC probe (curl in the private subnets; see docs/DEPLOY.md)."
  value       = module.probe.task_definition_family
}

output "probe_network_configuration" {
  description = "--network-configuration for aws ecs run-task of the probe."
  value       = module.probe.network_configuration
}

output "probe_log_group" {
  description = "Where the probe's output goes (stream probe/probe/<task id>)."
  value       = module.probe.log_group
}

output "probe_security_group_id" {
  description = "Security group of the probe; also fits a CloudShell VPC environment in a private subnet."
  value       = module.probe.security_group_id
}

output "private_subnet_ids" {
  description = "Private subnets (tasks, probe, a CloudShell VPC environment)."
  value       = module.network.private_subnet_ids
}
