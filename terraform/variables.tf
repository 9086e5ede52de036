variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "search"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { Project = "ecs-autoscaler" }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.40.0.0/16"
  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be a CIDR block such as 10.40.0.0/16."
  }
}

variable "image_repository" {
  description = "Container image repository holding both binaries (see the Dockerfile), e.g. an ECR URL."
  type        = string
}

variable "search_image_tag" {
  description = "Image tag the search service runs: the tag pushed (the ECR repository's tags are immutable, so not \"latest\")."
  type        = string
  validation {
    condition     = length(var.search_image_tag) > 0 && var.search_image_tag != "latest"
    error_message = "search_image_tag must name the tag pushed, such as a git commit; \"latest\" cannot be pushed twice to an immutable repository and says nothing about what runs."
  }
}

variable "autoscaler_image_tag" {
  description = "Image tag the autoscaler runs: the tag pushed (the ECR repository's tags are immutable, so not \"latest\")."
  type        = string
  validation {
    condition     = length(var.autoscaler_image_tag) > 0 && var.autoscaler_image_tag != "latest"
    error_message = "autoscaler_image_tag must name the tag pushed, such as a git commit; \"latest\" cannot be pushed twice to an immutable repository and says nothing about what runs."
  }
}

variable "search_cpu" {
  description = "CPU units of a search task (256 = 0.25 vCPU)."
  type        = number
  default     = 256
}

variable "search_memory" {
  description = "Memory of a search task, MiB."
  type        = number
  default     = 512
}

variable "search_min_count" {
  description = "Fewest search tasks: the rendered policy's min, and the service's desired count at creation (the autoscaler owns the count afterwards)."
  type        = number
  default     = 2
  validation {
    condition     = var.search_min_count >= 1
    error_message = "search_min_count must be at least 1."
  }
}

variable "search_max_count" {
  description = "Most search tasks: the rendered policy's max."
  type        = number
  default     = 10
  validation {
    condition     = var.search_max_count >= 1
    error_message = "search_max_count must be at least 1 (and at least search_min_count)."
  }
}

variable "search_cpu_target" {
  description = "The policy's cpu rule: average CPU of the search tasks to keep, percent."
  type        = number
  default     = 70
  validation {
    condition     = var.search_cpu_target > 0 && var.search_cpu_target <= 100
    error_message = "search_cpu_target is a percentage in (0, 100]."
  }
}

variable "search_p99_target_ms" {
  description = "The policy's p99 rule: latency SLO of the search service, milliseconds."
  type        = number
  default     = 150
  validation {
    condition     = var.search_p99_target_ms > 0 && floor(var.search_p99_target_ms) == var.search_p99_target_ms
    error_message = "search_p99_target_ms must be a positive whole number of milliseconds."
  }
}

variable "search_demand_per_task" {
  description = "The policy's demand rule: requests arriving per search task per second to keep, as a starting point (about two thirds of what a task serves; 1,400 for a 0.25 vCPU task). The daemon learns the real figure from the service's p99 and arrival rate."
  type        = number
  default     = 1400
  validation {
    condition     = var.search_demand_per_task > 0
    error_message = "search_demand_per_task must be greater than zero."
  }
}

variable "search_requests_per_target" {
  description = "Optional third rule: ALB requests per task per minute to track (RequestCountPerTarget). null leaves it out."
  type        = number
  default     = null
}

variable "autoscaler_dry_run" {
  description = "Render the policy with dry_run = true: the autoscaler decides and reports but changes nothing."
  type        = bool
  default     = false
}

variable "autoscaler_cpu" {
  description = "CPU units of the autoscaler task."
  type        = number
  default     = 256
}

variable "autoscaler_memory" {
  description = "Memory of the autoscaler task, MiB."
  type        = number
  default     = 512
}

variable "autoscaler_tasks" {
  description = "Tasks of the autoscaler service: one leader, the others followers ready to take over (2: one per AZ)."
  type        = number
  default     = 2
  validation {
    condition     = var.autoscaler_tasks >= 1 && floor(var.autoscaler_tasks) == var.autoscaler_tasks
    error_message = "autoscaler_tasks must be a whole number, at least 1 (2 keeps a follower in the other AZ)."
  }
}

variable "autoscaler_lease_ttl" {
  description = "The leader lease's lifetime without renewal: the longest the autoscaler goes without a leader after the leader's task or AZ is lost."
  type        = string
  default     = "15s"
  validation {
    # What the daemon accepts: 3s to 5m (it renews every third of it).
    condition = try(alltrue([
      for seconds in [tonumber(regex("^([0-9]+)(s|m)$", var.autoscaler_lease_ttl)[0]) * (endswith(var.autoscaler_lease_ttl, "m") ? 60 : 1)] :
      seconds >= 3 && seconds <= 300
    ]), false)
    error_message = "autoscaler_lease_ttl must be whole seconds or minutes from 3s to 5m, such as 15s or 1m."
  }
}

variable "state_table_name" {
  description = "Name of the autoscaler's DynamoDB state table; null: <name>-autoscaler-state."
  type        = string
  default     = null
}

variable "state_table_deletion_protection" {
  description = "Protect the autoscaler's DynamoDB state table from deletion (lift it before tearing down)."
  type        = bool
  default     = true
}

variable "status_allowed_cidrs" {
  description = "Who may reach the autoscaler's status API on port 9090. Default: the VPC only."
  type        = list(string)
  default     = []
}

variable "search_internal_allowed_cidrs" {
  description = "Who may reach the search tasks directly on port 8080 (every route: /metrics, POST /products). Default: the VPC only. The internet gets the public search routes through the ALB."
  type        = list(string)
  default     = []
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener on the ALB; without one the ALB listens on HTTP only."
  type        = string
  default     = null
}

variable "api_token_secret_arn" {
  description = "Secrets Manager secret holding the autoscaler's API token (enables pause/resume/reload)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 365
}

variable "alb_deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = true
}

variable "container_insights" {
  description = "ECS Container Insights on the cluster: enabled, enhanced or disabled. Costs extra (see docs/DEPLOY.md); the autoscaler does not need it."
  type        = string
  default     = "enabled"
}

variable "policy_bucket_force_destroy" {
  description = "Let terraform destroy delete the policy bucket with every policy version in it (set it before tearing down)."
  type        = bool
  default     = false
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for the autoscaler's alarms (not deciding, backend errors); null: the alarms only change state."
  type        = string
  default     = null
}

variable "alarm_not_deciding_minutes" {
  description = "Minutes in a row without a control-loop round before the not-deciding alarm fires."
  type        = number
  default     = 3
  validation {
    condition     = var.alarm_not_deciding_minutes >= 1
    error_message = "alarm_not_deciding_minutes must be at least 1."
  }
}

variable "alarm_backend_error_minutes" {
  description = "Minutes in a row with failed AWS calls before the backend-errors alarm fires."
  type        = number
  default     = 5
  validation {
    condition     = var.alarm_backend_error_minutes >= 1
    error_message = "alarm_backend_error_minutes must be at least 1."
  }
}

variable "cloudwatch_dashboard" {
  description = "Create the CloudWatch dashboard <name>-autoscaler (see docs/DEPLOY.md, \"Dashboards\"): CPU and task counts of the search service, its ALB and EMF metrics, the autoscaler's heartbeat and alarms. A dashboard costs $3 a month beyond the free tier's three."
  type        = bool
  default     = true
}

variable "autoscaler_event_bus_arn" {
  description = "EventBridge event bus the autoscaler's task role may publish scaling events to (events:PutEvents); null: the account's default bus in region."
  type        = string
  default     = null
}
