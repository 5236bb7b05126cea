output "function_names" {
  description = "Function name of each Lambda, by crate name."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "architectures" {
  description = "Architectures of each Lambda."
  value       = { for k, f in aws_lambda_function.this : k => f.architectures }
}

output "runtimes" {
  description = "Runtime of each Lambda."
  value       = { for k, f in aws_lambda_function.this : k => f.runtime }
}

output "environments" {
  description = "Environment variables of each Lambda."
  value       = { for k, f in aws_lambda_function.this : k => f.environment[0].variables }
}

output "schedules" {
  description = "Schedule expression of each scheduled Lambda."
  value       = { for k, r in aws_cloudwatch_event_rule.schedule : k => r.schedule_expression }
}

output "event_source_mapping" {
  description = "The feature-writer's MSK trigger: topics, batch size, window, and the topic-creator answer it waited for."
  value = {
    topics         = aws_lambda_event_source_mapping.feature_writer.topics
    batch_size     = aws_lambda_event_source_mapping.feature_writer.batch_size
    window_seconds = aws_lambda_event_source_mapping.feature_writer.maximum_batching_window_in_seconds
    after_topics   = terraform_data.topics_ready.output
  }
}

output "managed_policies" {
  description = "The AWS managed policies attached to the functions' roles."
  value       = distinct([for a in aws_iam_role_policy_attachment.xray : a.policy_arn])
}

output "failure_queue_arns" {
  description = "The failure destinations: failed async invocations and event-source batches, and aggregates that cannot be decoded or were refused."
  value = {
    lambda         = aws_sqs_queue.failures.arn
    feature_writer = aws_sqs_queue.feature_writer_failures.arn
  }
}

output "failure_queue_names" {
  description = "The two failure queues' names, for their alarms."
  value = {
    lambda         = aws_sqs_queue.failures.name
    feature_writer = aws_sqs_queue.feature_writer_failures.name
  }
}

output "iam_policies" {
  description = "Every inline IAM policy of the module, by function."
  value       = local.policies
}

output "timeouts" {
  description = "Timeout of each Lambda, seconds."
  value       = { for k, f in aws_lambda_function.this : k => f.timeout }
}
