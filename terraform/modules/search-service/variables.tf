variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "region" {
  description = "Region of the log group."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks."
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer allowed to reach the tasks."
  type        = string
}

variable "target_group_arn" {
  description = "Target group the tasks register in."
  type        = string
}

variable "image" {
  description = "Container image with /usr/local/bin/search-service."
  type        = string
}

variable "cpu" {
  description = "CPU units per task."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Memory per task, MiB."
  type        = number
  default     = 512
}

variable "initial_count" {
  description = "Desired count at creation; ignored afterwards."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "Retention of the log group."
  type        = number
  default     = 365
}

variable "vpc_cidr" {
  description = "CIDR allowed to reach the tasks' port 8080 directly when internal_allowed_cidrs is empty."
  type        = string
}

variable "internal_allowed_cidrs" {
  description = "CIDRs allowed to reach the tasks' port 8080 directly (all routes); empty means the VPC."
  type        = list(string)
  default     = []
}

variable "namespace_id" {
  description = "Private DNS namespace the tasks register in as search.<namespace>."
  type        = string
}

variable "emf_service" {
  description = "Value of the Service dimension of the EMF metrics (namespace SearchService)."
  type        = string
}

variable "namespace_name" {
  description = "Domain of the private DNS namespace, for the internal URL."
  type        = string
}
