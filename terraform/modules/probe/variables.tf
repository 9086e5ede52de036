variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "region" {
  description = "Region of the log group."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the task."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (where the internal endpoints are)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets the probe runs in."
  type        = list(string)
}

variable "image" {
  description = "An image with sh and curl."
  type        = string
  default     = "public.ecr.aws/amazonlinux/amazonlinux:2023"
}

variable "default_url" {
  description = "What the probe fetches when run without a command override."
  type        = string
}

variable "api_token_secret_arn" {
  description = "Secrets Manager secret with the autoscaler's API token, injected as ECS_AUTOSCALER_API_TOKEN; null: none."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the log group."
  type        = number
  default     = 365
}
