output "function_names" {
  description = "Function name of each Lambda, by key: topic-creator, <pipeline>-<crate>."
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

output "event_source_mappings" {
  description = "Each pipeline's feature-writer MSK trigger: topics, batch size, window, consumer group, and the topic-creator answer it waited for."
  value = { for k, m in aws_lambda_event_source_mapping.feature_writer : k => {
    topics         = m.topics
    batch_size     = m.batch_size
    window_seconds = m.maximum_batching_window_in_seconds
    group          = one(m.amazon_managed_kafka_event_source_config).consumer_group_id
    after_topics   = terraform_data.topics_ready.output
  } }
}

output "managed_policies" {
  description = "The AWS managed policies attached to the functions' roles."
  value       = distinct([for a in aws_iam_role_policy_attachment.xray : a.policy_arn])
}

output "failure_queue_arns" {
  description = "The failure destinations: failed async invocations and event-source batches (lambda), and each pipeline's aggregates that cannot be decoded or were refused (feature_writers)."
  value = {
    lambda          = aws_sqs_queue.failures.arn
    feature_writers = { for k, q in aws_sqs_queue.feature_writer_failures : k => q.arn }
  }
}

output "failure_queue_names" {
  description = "The failure queues' names, for their alarms."
  value = {
    lambda          = aws_sqs_queue.failures.name
    feature_writers = { for k, q in aws_sqs_queue.feature_writer_failures : k => q.name }
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
