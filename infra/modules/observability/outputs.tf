output "alarm_topic_arn" {
  description = "The SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarms" {
  description = "Every alarm by name, as the resources hold them: description, actions, threshold, how missing data counts, and the metrics it reads."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.metric : a.alarm_name => {
      description = a.alarm_description
      actions     = a.alarm_actions
      ok_actions  = a.ok_actions
      threshold   = a.threshold
      missing     = a.treat_missing_data
      metrics     = ["${a.namespace} ${a.metric_name}"]
      expression  = null
    } },
    { for k, a in aws_cloudwatch_metric_alarm.lambda : a.alarm_name => {
      description = a.alarm_description
      actions     = a.alarm_actions
      ok_actions  = a.ok_actions
      threshold   = a.threshold
      missing     = a.treat_missing_data
      metrics     = ["${a.namespace} ${a.metric_name}"]
      expression  = null
    } },
    { for a in concat(values(aws_cloudwatch_metric_alarm.dead_letters), values(aws_cloudwatch_metric_alarm.stalled)) : a.alarm_name => {
      description = a.alarm_description
      actions     = a.alarm_actions
      ok_actions  = a.ok_actions
      threshold   = a.threshold
      missing     = a.treat_missing_data
      metrics     = [for q in a.metric_query : "${one(q.metric).namespace} ${one(q.metric).metric_name}" if length(q.metric) > 0]
      expression  = one([for q in a.metric_query : q.expression if q.return_data == true])
    } },
    { for a in aws_cloudwatch_composite_alarm.not_delivering : a.alarm_name => {
      description = a.alarm_description
      actions     = a.alarm_actions
      ok_actions  = a.ok_actions
      threshold   = null
      missing     = "composite"
      metrics     = []
      expression  = null
    } },
  )
}

output "composite_rules" {
  description = "The rule of each pipeline's pipeline-not-delivering composite alarm."
  value       = { for k, a in aws_cloudwatch_composite_alarm.not_delivering : k => a.alarm_rule }
}

output "dashboard_names" {
  description = "Each pipeline's CloudWatch dashboard."
  value       = { for k, d in aws_cloudwatch_dashboard.this : k => d.dashboard_name }
}
