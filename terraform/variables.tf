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
  description = "Image tag the search service runs."
  type        = string
  default     = "latest"
}

variable "autoscaler_image_tag" {
  description = "Image tag the autoscaler runs."
  type        = string
  default     = "latest"
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
  description = "Initial desired count of the search service. Keep it equal to the policy's min: the autoscaler owns the count after creation."
  type        = number
  default     = 2
  validation {
    condition     = var.search_min_count >= 1
    error_message = "search_min_count must be at least 1."
  }
}

variable "search_max_count" {
  description = "Upper bound documented beside the policy's max (the policy file enforces it)."
  type        = number
  default     = 10
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

variable "status_allowed_cidrs" {
  description = "Who may reach the autoscaler's status API on port 9090. Default: the VPC only."
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
