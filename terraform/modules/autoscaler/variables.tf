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
  description = "Subnets of the tasks, one per AZ: Fargate spreads the tasks over their AZs."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids needs subnets in at least two AZs, so the leader and the follower do not share one."
  }
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

variable "tasks" {
  description = "Tasks of the autoscaler service: one leader (it scales) and the rest followers (they take over when its lease lapses)."
  type        = number
  default     = 2
  validation {
    condition     = var.tasks >= 1 && floor(var.tasks) == var.tasks
    error_message = "tasks must be a whole number, at least 1 (2 for a follower in another AZ)."
  }
}

variable "lease_ttl" {
  description = "How long the leader's lease lasts without renewal (ECS_AUTOSCALER_DYNAMODB__LEASE_TTL): the longest a follower waits before it takes over from a leader that stopped renewing."
  type        = string
  default     = "15s"
  validation {
    # What the daemon accepts: 3s to 5m (it renews every third of it).
    condition = try(alltrue([
      for seconds in [tonumber(regex("^([0-9]+)(s|m)$", var.lease_ttl)[0]) * (endswith(var.lease_ttl, "m") ? 60 : 1)] :
      seconds >= 3 && seconds <= 300
    ]), false)
    error_message = "lease_ttl must be whole seconds or minutes from 3s to 5m, such as 15s or 1m."
  }
}

variable "state_table_name" {
  description = "Name of the DynamoDB state table; null: <name>-autoscaler-state."
  type        = string
  default     = null
  validation {
    condition     = var.state_table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.state_table_name))
    error_message = "state_table_name must be 3-255 letters, digits, underscores, dots or dashes."
  }
}

variable "state_table_deletion_protection" {
  description = "Protect the DynamoDB state table from deletion (terraform destroy included)."
  type        = bool
  default     = true
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

variable "event_bus_arn" {
  description = "EventBridge event bus the task role may events:PutEvents to (the daemon's scaling events); null: the account's default bus in region."
  type        = string
  default     = null
  validation {
    condition     = var.event_bus_arn == null || can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]+$", var.event_bus_arn))
    error_message = "event_bus_arn must be an EventBridge bus ARN, such as arn:aws:events:eu-west-1:123456789012:event-bus/default."
  }
}

variable "dashboard" {
  description = "Create the CloudWatch dashboard <name>-autoscaler: the scaled service's CPU and task counts, its ALB and EMF metrics, the daemon's heartbeat and alarms."
  type        = bool
  default     = true
}

variable "container_insights" {
  description = "The cluster's Container Insights setting (enabled, enhanced or disabled): the dashboard's task-count widget reads ECS/ContainerInsights, which is empty when disabled."
  type        = string
  default     = "enabled"
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
