# The search service behind an ALB, and ecs-autoscaler as a companion service that owns
# the search service's desired count. Do NOT add an Application Auto Scaling policy to
# the search service: two writers of desiredCount fight each other.
#
# The autoscaler's policy is rendered from the same module outputs that name the cluster,
# the service, the target group and the load balancer, so the policy always names what
# exists here, and IAM is scoped to exactly that service.

module "network" {
  source   = "./modules/network"
  name     = var.name
  vpc_cidr = var.vpc_cidr
}

module "cluster" {
  source             = "./modules/cluster"
  name               = var.name
  vpc_id             = module.network.vpc_id
  container_insights = var.container_insights
}

module "alb" {
  source              = "./modules/alb"
  name                = var.name
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  certificate_arn     = var.certificate_arn
  deletion_protection = var.alb_deletion_protection
}

module "search_service" {
  source                 = "./modules/search-service"
  name                   = var.name
  region                 = var.region
  cluster_arn            = module.cluster.arn
  vpc_id                 = module.network.vpc_id
  vpc_cidr               = var.vpc_cidr
  private_subnet_ids     = module.network.private_subnet_ids
  alb_security_group_id  = module.alb.security_group_id
  target_group_arn       = module.alb.target_group_arn
  namespace_id           = module.cluster.namespace_id
  namespace_name         = module.cluster.namespace_name
  internal_allowed_cidrs = var.search_internal_allowed_cidrs
  emf_service            = var.name
  image                  = "${var.image_repository}:${var.search_image_tag}"
  cpu                    = var.search_cpu
  memory                 = var.search_memory
  initial_count          = var.search_min_count
  log_retention_days     = var.log_retention_days
}

module "autoscaler" {
  source               = "./modules/autoscaler"
  name                 = var.name
  region               = var.region
  cluster_arn          = module.cluster.arn
  vpc_id               = module.network.vpc_id
  vpc_cidr             = var.vpc_cidr
  private_subnet_ids   = module.network.private_subnet_ids
  namespace_id         = module.cluster.namespace_id
  namespace_name       = module.cluster.namespace_name
  image                = "${var.image_repository}:${var.autoscaler_image_tag}"
  cpu                  = var.autoscaler_cpu
  memory               = var.autoscaler_memory
  status_allowed_cidrs = var.status_allowed_cidrs
  api_token_secret_arn = var.api_token_secret_arn
  log_retention_days   = var.log_retention_days

  # What the policy scales, named by what created it.
  cluster_name             = module.cluster.name
  scaled_service_name      = module.search_service.service_name
  scaled_service_arn       = module.search_service.service_arn
  target_group_arn_suffix  = module.alb.target_group_arn_suffix
  load_balancer_arn_suffix = module.alb.arn_suffix
  emf_namespace            = module.search_service.emf_namespace
  emf_dimensions           = module.search_service.emf_dimensions

  # How it scales.
  min_count           = var.search_min_count
  max_count           = var.search_max_count
  cpu_target          = var.search_cpu_target
  p99_target_ms       = var.search_p99_target_ms
  requests_per_target = var.search_requests_per_target
  demand_per_task     = var.search_demand_per_task
  dry_run             = var.autoscaler_dry_run

  policy_bucket_force_destroy = var.policy_bucket_force_destroy

  # Durable state and leader election (DynamoDB).
  tasks                           = var.autoscaler_tasks
  lease_ttl                       = var.autoscaler_lease_ttl
  state_table_name                = var.state_table_name
  state_table_deletion_protection = var.state_table_deletion_protection

  heartbeat_name              = var.name
  alarm_sns_topic_arn         = var.alarm_sns_topic_arn
  alarm_not_deciding_minutes  = var.alarm_not_deciding_minutes
  alarm_backend_error_minutes = var.alarm_backend_error_minutes

  # What operators see and receive.
  dashboard          = var.cloudwatch_dashboard
  container_insights = var.container_insights
  event_bus_arn      = var.autoscaler_event_bus_arn
}

module "probe" {
  source               = "./modules/probe"
  name                 = var.name
  region               = var.region
  vpc_id               = module.network.vpc_id
  vpc_cidr             = var.vpc_cidr
  private_subnet_ids   = module.network.private_subnet_ids
  default_url          = module.autoscaler.status_url
  api_token_secret_arn = var.api_token_secret_arn
  log_retention_days   = var.log_retention_days
}

# The private DNS namespace moved from the autoscaler module to the cluster module (the
# search service registers in it too); this keeps an existing namespace in place.
moved {
  from = module.autoscaler.aws_service_discovery_private_dns_namespace.this
  to   = module.cluster.aws_service_discovery_private_dns_namespace.this
}
