variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the load balancer."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets in two AZs."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate; null serves HTTP only."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = true
}
