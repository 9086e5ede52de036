variable "name" {
  description = "Prefix of the role names, e.g. \"search-autoscaler\" gives search-autoscaler-execution."
  type        = string
}

variable "secret_arn" {
  description = "Secrets Manager secret the execution role may read for the task's environment; null: none."
  type        = string
  default     = null
}
