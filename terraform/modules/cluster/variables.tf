variable "name" {
  description = "Cluster name."
  type        = string
}
