# A CloudWatch dashboard for the scaled service and its autoscaler (var.dashboard):
# what the policy reads (AWS/ECS CPU, the service's EMF latency, arrivals and errors, the
# ALB's requests per target), what the service ran (desired, running and pending tasks,
# from Container Insights), and the daemon's own EMF heartbeat and its two alarms. Every
# widget names what this configuration created, and the policy's targets are drawn as
# lines. The daemon's Prometheus metrics (/metrics) are not in CloudWatch: see
# deploy/grafana/ecs-autoscaler.json.

locals {
  dashboard_name = "${var.name}-autoscaler"

  ecs_dimensions = ["ClusterName", var.cluster_name, "ServiceName", var.scaled_service_name]
  emf_dimensions = flatten([for k in sort(keys(var.emf_dimensions)) : [k, var.emf_dimensions[k]]])
  heartbeat_dims = flatten([for k in sort(keys(local.heartbeat.dimensions)) : [k, local.heartbeat.dimensions[k]]])

  # Task counts exist only in ECS/ContainerInsights; without it the widget says so.
  task_count_text = {
    type   = "text"
    x      = 0
    y      = 2
    width  = 12
    height = 6
    properties = {
      markdown = "### Tasks\nDesired, running and pending task counts come from `ECS/ContainerInsights`, which is disabled on this cluster (`container_insights = \"disabled\"`). The autoscaler's `/metrics` has `ecs_autoscaler_desired_tasks` and `ecs_autoscaler_running_tasks` (deploy/grafana/ecs-autoscaler.json)."
    }
  }
  task_count_metric = {
    type   = "metric"
    x      = 0
    y      = 2
    width  = 12
    height = 6
    properties = {
      title   = "Tasks: desired, running, pending (ECS/ContainerInsights)"
      view    = "timeSeries"
      stacked = false
      region  = var.region
      stat    = "Maximum"
      period  = 60
      metrics = [
        concat(["ECS/ContainerInsights", "DesiredTaskCount"], local.ecs_dimensions, [{ label = "desired" }]),
        concat(["ECS/ContainerInsights", "RunningTaskCount"], local.ecs_dimensions, [{ label = "running" }]),
        concat(["ECS/ContainerInsights", "PendingTaskCount"], local.ecs_dimensions, [{ label = "pending" }]),
      ]
      yAxis = { left = { min = 0 } }
      annotations = {
        horizontal = [
          { label = "policy min", value = var.min_count },
          { label = "policy max", value = var.max_count },
        ]
      }
    }
  }
  # The two widgets differ in type, so they are picked by index rather than by a conditional.
  task_count_widget = [local.task_count_metric, local.task_count_text][var.container_insights == "disabled" ? 1 : 0]

  dashboard_widgets = [
    {
      type   = "text"
      x      = 0
      y      = 0
      width  = 24
      height = 2
      properties = {
        markdown = "## ${var.scaled_service_name} (cluster ${var.cluster_name}), scaled by ecs-autoscaler ${var.heartbeat_name}\nThe policy keeps ${var.min_count} to ${var.max_count} tasks${var.dry_run ? " (dry run: it decides and changes nothing)" : ""}. Dashed lines are its targets. The daemon's decisions and reasons: `/v1/status` inside the VPC (docs/DEPLOY.md, section 5)."
      }
    },
    local.task_count_widget,
    {
      type   = "metric"
      x      = 12
      y      = 2
      width  = 12
      height = 6
      properties = {
        title   = "CPU utilization, percent (AWS/ECS): what the cpu rule reads"
        view    = "timeSeries"
        stacked = false
        region  = var.region
        period  = 60
        metrics = [
          concat(["AWS/ECS", "CPUUtilization"], local.ecs_dimensions, [{ stat = "Average", label = "average (the rule's statistic)" }]),
          concat(["AWS/ECS", "CPUUtilization"], local.ecs_dimensions, [{ stat = "Maximum", label = "maximum" }]),
        ]
        yAxis       = { left = { min = 0 } }
        annotations = { horizontal = [{ label = "cpu rule target", value = var.cpu_target }] }
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 8
      width  = 8
      height = 6
      properties = {
        title   = "Search latency, ms (${var.emf_namespace} EMF, 10 s): what the p99 rule reads"
        view    = "timeSeries"
        stacked = false
        region  = var.region
        stat    = "Maximum"
        period  = 10
        metrics = [
          concat([var.emf_namespace, "LatencyP99"], local.emf_dimensions, [{ label = "p99 (highest task)" }]),
          concat([var.emf_namespace, "LatencyP50"], local.emf_dimensions, [{ label = "p50 (highest task)" }]),
        ]
        yAxis       = { left = { min = 0 } }
        annotations = { horizontal = [{ label = "p99 SLO", value = var.p99_target_ms }] }
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = 8
      width  = 8
      height = 6
      properties = {
        title   = "ALB TargetResponseTime p99, seconds"
        view    = "timeSeries"
        stacked = false
        region  = var.region
        stat    = "p99"
        period  = 60
        metrics = [
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.load_balancer_arn_suffix, "TargetGroup", var.target_group_arn_suffix, { label = "p99" }],
        ]
        yAxis       = { left = { min = 0 } }
        annotations = { horizontal = [{ label = "p99 SLO", value = var.p99_target_ms / 1000 }] }
      }
    },
    {
      type   = "metric"
      x      = 16
      y      = 8
      width  = 8
      height = 6
      properties = {
        title   = "ALB RequestCountPerTarget, per minute"
        view    = "timeSeries"
        stacked = false
        region  = var.region
        stat    = "Sum"
        period  = 60
        metrics = [
          ["AWS/ApplicationELB", "RequestCountPerTarget", "TargetGroup", var.target_group_arn_suffix, { label = "requests per target" }],
        ]
        yAxis       = { left = { min = 0 } }
        annotations = { horizontal = var.requests_per_target == null ? [] : [{ label = "requests-per-target rule target", value = var.requests_per_target }] }
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 14
      width  = 12
      height = 6
      properties = {
        title   = "Search requests per second (${var.emf_namespace} EMF): what the demand and errors rules read"
        view    = "timeSeries"
        stacked = false
        region  = var.region
        stat    = "Sum"
        period  = 60
        metrics = [
          [{ id = "arrivals", expression = "m1 / PERIOD(m1)", label = "arrived (shed included)" }],
          [{ id = "answered", expression = "m2 / PERIOD(m2)", label = "answered" }],
          [{ id = "errors", expression = "m3 / PERIOD(m3)", label = "5xx and shed" }],
          concat([var.emf_namespace, "ArrivalCount"], local.emf_dimensions, [{ id = "m1", visible = false }]),
          concat([var.emf_namespace, "RequestCount"], local.emf_dimensions, [{ id = "m2", visible = false }]),
          concat([var.emf_namespace, "ErrorCount"], local.emf_dimensions, [{ id = "m3", visible = false }]),
        ]
        yAxis = { left = { min = 0 } }
      }
    },
    {
      type   = "metric"
      x      = 12
      y      = 14
      width  = 12
      height = 6
      properties = {
        title   = "Autoscaler heartbeat per minute (${local.heartbeat.namespace} EMF, leader only)"
        view    = "timeSeries"
        stacked = false
        region  = var.region
        stat    = "Sum"
        period  = 60
        metrics = [
          concat([local.heartbeat.namespace, "Rounds"], local.heartbeat_dims, [{ label = "rounds" }]),
          concat([local.heartbeat.namespace, "Decisions"], local.heartbeat_dims, [{ label = "policies decided" }]),
          concat([local.heartbeat.namespace, "BackendErrors"], local.heartbeat_dims, [{ label = "failed AWS calls" }]),
        ]
        yAxis = { left = { min = 0 } }
      }
    },
    {
      type   = "alarm"
      x      = 0
      y      = 20
      width  = 24
      height = 2
      properties = {
        title  = "Autoscaler alarms"
        alarms = [aws_cloudwatch_metric_alarm.not_deciding.arn, aws_cloudwatch_metric_alarm.backend_errors.arn]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count          = var.dashboard ? 1 : 0
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
