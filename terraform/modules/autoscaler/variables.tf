variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "region" {
  description = "Region of the log group, the AWS APIs and the policy's target."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster the autoscaler runs in."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster of the scaled service (the rendered policy names it)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the task."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR allowed to reach the status API when status_allowed_cidrs is empty."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the task."
  type        = list(string)
}

variable "namespace_id" {
  description = "Private DNS namespace the task registers in as autoscaler.<namespace>."
  type        = string
}

variable "namespace_name" {
  description = "Domain of the private DNS namespace, for the status URL."
  type        = string
}

variable "image" {
  description = "Container image with /usr/local/bin/ecs-autoscaler."
  type        = string
}

variable "cpu" {
  description = "CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Memory, MiB."
  type        = number
  default     = 512
}

variable "scaled_service_arn" {
  description = "The one ECS service the autoscaler may describe and update."
  type        = string
}

variable "scaled_service_name" {
  description = "Name of that service (the rendered policy names it, and is named after it)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "CloudWatch's TargetGroup dimension of the service's target group (targetgroup/NAME/ID)."
  type        = string
}

variable "load_balancer_arn_suffix" {
  description = "CloudWatch's LoadBalancer dimension of the load balancer in front of it (app/NAME/ID)."
  type        = string
}

variable "emf_namespace" {
  description = "Namespace of the service's EMF latency metrics."
  type        = string
}

variable "emf_dimensions" {
  description = "Dimensions of the service's EMF latency metrics."
  type        = map(string)
}

variable "min_count" {
  description = "The policy's min: fewest tasks, enforced also when metrics fail."
  type        = number
}

variable "max_count" {
  description = "The policy's max: most tasks."
  type        = number
}

variable "cpu_target" {
  description = "The cpu rule's target, percent of the tasks' CPU."
  type        = number
  default     = 70
}

variable "p99_target_ms" {
  description = "The p99 rule's latency SLO, milliseconds."
  type        = number
  default     = 150
}

variable "demand_per_task" {
  description = "The demand rule's target: requests arriving per task per second (the service's EMF ArrivalCount, 10 s)."
  type        = number
  default     = 1400
}

variable "requests_per_target" {
  description = "ALB requests per task per minute to track; null leaves the rule out."
  type        = number
  default     = null
}

variable "dry_run" {
  description = "Render the policy with dry_run = true: decide and report, change nothing."
  type        = bool
  default     = false
}

variable "policy_prefix" {
  description = "Key prefix of the policy objects in the bucket; ends with a slash."
  type        = string
  default     = "policies/"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.policy_prefix))
    error_message = "policy_prefix must be a relative key prefix ending in a slash, such as policies/."
  }
}

variable "policy_bucket_force_destroy" {
  description = "Let terraform destroy delete the policy bucket with every object version in it."
  type        = bool
  default     = false
}

variable "policy_version_retention_days" {
  description = "Days an overwritten policy version is kept for rollback."
  type        = number
  default     = 365
}

variable "heartbeat_name" {
  description = "Value of the Autoscaler dimension of the daemon's EMF heartbeat (ECS_AUTOSCALER_HEARTBEAT_NAME)."
  type        = string
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when an alarm fires or clears; null: the alarms only change state."
  type        = string
  default     = null
}

variable "alarm_not_deciding_minutes" {
  description = "Minutes in a row without a control-loop round before the not-deciding alarm fires."
  type        = number
  default     = 3
}

variable "alarm_backend_error_minutes" {
  description = "Minutes in a row with failed AWS calls before the backend-errors alarm fires."
  type        = number
  default     = 5
}

variable "status_allowed_cidrs" {
  description = "CIDRs allowed to reach port 9090; empty means the VPC only."
  type        = list(string)
  default     = []
}

variable "api_token_secret_arn" {
  description = "Secrets Manager secret with the API token; null disables mutating endpoints."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the log group."
  type        = number
  default     = 365
}
