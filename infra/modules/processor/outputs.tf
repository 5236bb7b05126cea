output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "The ECS service."
  value       = aws_ecs_service.this.name
}

output "task" {
  description = "What the task definition runs: architecture, size, the container's image, user, read-only root and environment."
  value = {
    cpu_architecture = one(aws_ecs_task_definition.this.runtime_platform).cpu_architecture
    cpu              = aws_ecs_task_definition.this.cpu
    memory           = aws_ecs_task_definition.this.memory
    container        = jsondecode(aws_ecs_task_definition.this.container_definitions)[0]
  }
}

output "iam_policies" {
  description = "Every inline IAM policy of the module, by name."
  value = {
    processor_task      = local.task_policy
    processor_execution = local.execution_policy
  }
}

output "scaling" {
  description = "Autoscaling bounds of the service."
  value       = { min = aws_appautoscaling_target.this.min_capacity, max = aws_appautoscaling_target.this.max_capacity }
}

output "lag_policy" {
  description = "What the lag policy tracks, as the policy resource holds it."
  value = {
    target   = one(aws_appautoscaling_policy.lag.target_tracking_scaling_policy_configuration).target_value
    metric   = one(one(aws_appautoscaling_policy.lag.target_tracking_scaling_policy_configuration).customized_metric_specification)
    scale_in = !one(aws_appautoscaling_policy.lag.target_tracking_scaling_policy_configuration).disable_scale_in
  }
}

output "log_retention_days" {
  description = "Retention of the processor's log group."
  value       = aws_cloudwatch_log_group.this.retention_in_days
}

output "log_group_name" {
  description = "The processor's log group (EMF metrics and JSON logs)."
  value       = aws_cloudwatch_log_group.this.name
}

output "consumer_group" {
  description = "The processor's consumer group (and transactional id prefix)."
  value       = local.group
}
