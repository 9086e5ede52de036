variable "name" {
  description = "Cluster name; the private DNS namespace is <name>.internal."
  type        = string
}

variable "vpc_id" {
  description = "VPC the private DNS namespace resolves in."
  type        = string
}

variable "container_insights" {
  description = "Container Insights: enabled, enhanced or disabled (a cost choice; the autoscaler does not need it)."
  type        = string
  default     = "enabled"
  validation {
    condition     = contains(["enabled", "enhanced", "disabled"], var.container_insights)
    error_message = "container_insights must be enabled, enhanced or disabled."
  }
}
