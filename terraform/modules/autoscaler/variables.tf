variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "region" {
  description = "Region of the log group and the AWS APIs."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster name (policies name it)."
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

variable "image" {
  description = "Container image with /usr/local/bin/ecs-autoscaler and its policies."
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
