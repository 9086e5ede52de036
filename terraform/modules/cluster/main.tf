# The ECS cluster, and the private DNS namespace its services register in
# (<service>.<name>.internal, resolvable from inside the VPC only).

resource "aws_ecs_cluster" "this" {
  name = var.name
  # Container Insights is not what the autoscaler reads (AWS/ECS CPUUtilization is free);
  # it adds per-cluster, per-service and per-task metrics billed as custom metrics plus
  # performance log events. See docs/DEPLOY.md, "What it costs", before leaving it on.
  setting {
    name  = "containerInsights"
    value = var.container_insights
  }
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name = "${var.name}.internal"
  vpc  = var.vpc_id
}
