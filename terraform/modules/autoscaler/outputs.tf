output "status_url" {
  description = "Status API under the private DNS name (from inside the VPC)."
  value       = "http://${aws_service_discovery_service.this.name}.${var.namespace_name}:9090/v1/status"
}

output "internal_url" {
  description = "Base URL of the status API from inside the VPC."
  value       = "http://${aws_service_discovery_service.this.name}.${var.namespace_name}:9090"
}

output "task_role_arn" {
  description = "The autoscaler's task role."
  value       = aws_iam_role.task.arn
}

output "policy" {
  description = "The rendered policy, as uploaded."
  value       = local.policy
}

output "policy_bucket" {
  description = "Bucket holding the policies."
  value       = aws_s3_bucket.policies.bucket
}

output "policy_s3_uri" {
  description = "The rendered policy's object."
  value       = "s3://${aws_s3_bucket.policies.bucket}/${aws_s3_object.policy.key}"
}

output "policies_url" {
  description = "ECS_AUTOSCALER_POLICIES_DIR: the prefix the daemon lists."
  value       = local.policies_url
}

output "environment" {
  description = "The daemon's environment in the task (the API token aside)."
  value       = local.environment
}

output "state_table_name" {
  description = "The daemon's DynamoDB state table (ECS_AUTOSCALER_DYNAMODB__TABLE)."
  value       = aws_dynamodb_table.state.name
}

output "state_table_arn" {
  description = "ARN of the state table, the one table the task role may use."
  value       = aws_dynamodb_table.state.arn
}

output "log_group" {
  description = "The daemon's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "service_name" {
  description = "The autoscaler's ECS service."
  value       = aws_ecs_service.this.name
}

output "alarm_names" {
  description = "The heartbeat alarms."
  value       = [aws_cloudwatch_metric_alarm.not_deciding.alarm_name, aws_cloudwatch_metric_alarm.backend_errors.alarm_name]
}

output "dashboard_name" {
  description = "The CloudWatch dashboard; null when var.dashboard is false."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "event_bus_arn" {
  description = "The EventBridge bus the task role may publish scaling events to."
  value       = local.event_bus_arn
}
