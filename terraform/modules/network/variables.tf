variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; subnets are /24s carved from it."
  type        = string
}
