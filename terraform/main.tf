# The search service behind an ALB, and ecs-autoscaler as a companion service that owns
# the search service's desired count. Do NOT add an Application Auto Scaling policy to
# the search service: two writers of desiredCount fight each other.

module "network" {
  source   = "./modules/network"
  name     = var.name
  vpc_cidr = var.vpc_cidr
}

module "cluster" {
  source = "./modules/cluster"
  name   = var.name
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
  source                = "./modules/search-service"
  name                  = var.name
  region                = var.region
  cluster_arn           = module.cluster.arn
  vpc_id                = module.network.vpc_id
  private_subnet_ids    = module.network.private_subnet_ids
  alb_security_group_id = module.alb.security_group_id
  target_group_arn      = module.alb.target_group_arn
  image                 = "${var.image_repository}:${var.search_image_tag}"
  cpu                   = var.search_cpu
  memory                = var.search_memory
  initial_count         = var.search_min_count
  log_retention_days    = var.log_retention_days
}

module "autoscaler" {
  source               = "./modules/autoscaler"
  name                 = var.name
  region               = var.region
  cluster_arn          = module.cluster.arn
  cluster_name         = module.cluster.name
  vpc_id               = module.network.vpc_id
  vpc_cidr             = var.vpc_cidr
  private_subnet_ids   = module.network.private_subnet_ids
  image                = "${var.image_repository}:${var.autoscaler_image_tag}"
  cpu                  = var.autoscaler_cpu
  memory               = var.autoscaler_memory
  scaled_service_arn   = module.search_service.service_arn
  status_allowed_cidrs = var.status_allowed_cidrs
  api_token_secret_arn = var.api_token_secret_arn
  log_retention_days   = var.log_retention_days
}
