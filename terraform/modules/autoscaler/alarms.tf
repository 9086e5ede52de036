# Alarms on the daemon's heartbeat. Every control-loop round prints one EMF record
# (namespace ECSAutoscaler, dimension Autoscaler = heartbeat_name) with Rounds = 1,
# Decisions = policies evaluated and BackendErrors = failed AWS calls in that round;
# CloudWatch Logs turns it into metrics, no AWS call from the daemon.
#
# A stopped autoscaler freezes the search service at its last count, so the absence of
# rounds is itself the alarm (missing data is breaching). Right after the first apply
# it stays in ALARM until the first task has run a round.

locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  heartbeat = {
    namespace  = "ECSAutoscaler"
    dimensions = { Autoscaler = var.heartbeat_name }
  }
}

resource "aws_cloudwatch_metric_alarm" "not_deciding" {
  alarm_name        = "${var.name}-autoscaler-not-deciding"
  alarm_description = "ecs-autoscaler ${var.heartbeat_name} ran no control-loop round for ${var.alarm_not_deciding_minutes} minute(s): ${var.scaled_service_name} stays at its last count until it is back. Check the ${var.name}-autoscaler service's events and the /ecs/${var.name}/ecs-autoscaler log group."
  namespace         = local.heartbeat.namespace
  metric_name       = "Rounds"
  dimensions        = local.heartbeat.dimensions
  statistic         = "Sum"
  period            = 60
  # N periods in a row without a round (missing counts as breaching).
  evaluation_periods  = var.alarm_not_deciding_minutes
  datapoints_to_alarm = var.alarm_not_deciding_minutes
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "backend_errors" {
  alarm_name        = "${var.name}-autoscaler-backend-errors"
  alarm_description = "ecs-autoscaler ${var.heartbeat_name} has had failing AWS calls in each of the last ${var.alarm_backend_error_minutes} minute(s). Its /v1/status shows last_error per policy."
  namespace         = local.heartbeat.namespace
  metric_name       = "BackendErrors"
  dimensions        = local.heartbeat.dimensions
  statistic         = "Sum"
  period            = 60
  # M periods in a row with at least one failed call. No data means no rounds, which
  # the alarm above reports.
  evaluation_periods  = var.alarm_backend_error_minutes
  datapoints_to_alarm = var.alarm_backend_error_minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
