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

variable "public_paths" {
  description = "Path patterns the public listener forwards to the search tasks; every other path gets a 404 from the load balancer."
  type        = list(string)
  default     = ["/products/search", "/products/*"]
  validation {
    condition     = length(var.public_paths) >= 1 && length(var.public_paths) <= 3
    error_message = "public_paths takes 1 to 3 patterns (an ALB condition allows 3 values, a rule 5; the methods take 2)."
  }
}

variable "public_methods" {
  description = "HTTP methods the public listener forwards."
  type        = list(string)
  default     = ["GET", "HEAD"]
  validation {
    condition     = length(var.public_methods) >= 1 && length(var.public_methods) <= 2
    error_message = "public_methods takes 1 or 2 methods (a listener rule allows 5 condition values in all)."
  }
}
