output "processor_repository_url" {
  description = "Push the processor image here, tagged with processor.image_tag (docs/deploy.md)."
  value       = module.processor.repository_url
}

output "ecs" {
  description = "The processor's ECS cluster and service."
  value       = { cluster = module.processor.cluster_name, service = module.processor.service_name }
}

output "msk_cluster_arn" {
  description = "The MSK Serverless cluster."
  value       = module.msk.arn
}

output "bootstrap_brokers" {
  description = "The cluster's IAM listener."
  value       = module.msk.bootstrap_brokers
}

output "lambda_functions" {
  description = "Function names, by crate name."
  value       = module.lambdas.function_names
}

output "lake_bucket" {
  description = "The data lake bucket (aggregates/ from Firehose, feature-store/ from the Feature Group)."
  value       = module.delivery.bucket_name
}

output "firehose_stream" {
  description = "The Firehose stream that reads the aggregates topic into the lake."
  value       = module.delivery.stream_name
}

output "glue_database" {
  description = "The lake's Glue database, for Athena."
  value       = module.delivery.glue_database
}

output "feature_group" {
  description = "The Feature Group."
  value       = module.feature_store.name
}

output "alarm_topic_arn" {
  description = "The SNS topic alarms notify."
  value       = module.observability.alarm_topic_arn
}

output "alarms" {
  description = "Every alarm by name: description (with its runbook link), actions, threshold, missing-data treatment, metrics."
  value       = module.observability.alarms
}

output "composite_alarm_rule" {
  description = "What pipeline-not-delivering fires on."
  value       = module.observability.composite_rule
}

output "dashboard" {
  description = "The CloudWatch dashboard."
  value       = module.observability.dashboard_name
}

output "topics" {
  description = "What the topic-creator was asked to make the cluster hold."
  value       = module.topics.request
}

output "iam_policies" {
  description = "Every inline IAM policy of the stack, by module and name (checked by the tests)."
  value = merge(
    { for k, v in module.network.iam_policies : "network.${k}" => v },
    { for k, v in module.delivery.iam_policies : "delivery.${k}" => v },
    { for k, v in module.feature_store.iam_policies : "feature_store.${k}" => v },
    { for k, v in module.lambdas.iam_policies : "lambdas.${k}" => v },
    { for k, v in module.processor.iam_policies : "processor.${k}" => v },
  )
}

output "checks" {
  description = "What the tests check, read back from the resources: buckets, schema, Lambdas, processor, environment values."
  value = {
    bucket_encryption     = module.delivery.bucket_encryption
    public_access_blocked = module.delivery.public_access_blocked
    bucket_policies       = module.delivery.bucket_policies
    glue_columns          = module.delivery.glue_columns
    glue_partition_keys   = module.delivery.glue_partition_keys
    firehose_buffering    = module.delivery.buffering
    features              = module.feature_store.features
    online_ttl_days       = module.feature_store.online_ttl_days
    lambda_architectures  = module.lambdas.architectures
    lambda_runtimes       = module.lambdas.runtimes
    lambda_environments   = module.lambdas.environments
    lambda_schedules      = module.lambdas.schedules
    event_source_mapping  = module.lambdas.event_source_mapping
    processor_task        = module.processor.task
    processor_scaling     = module.processor.scaling
    processor_log_days    = module.processor.log_retention_days
    interface_endpoints   = module.network.interface_endpoints
    lambda_timeouts       = module.lambdas.timeouts
    lake_source           = module.delivery.source
    table_parameters      = module.delivery.table_parameters
    dedup_query           = module.delivery.dedup_query
    cluster_policy        = module.msk.cluster_policy
    cluster_sg            = module.msk.security_group_id
    cluster_sg_rules      = module.msk.security_group_rules
    endpoints_sg          = module.network.endpoints_security_group_id
    topic_triggers        = module.topics.triggers
    topics_result         = module.topics.result
    lambda_managed        = module.lambdas.managed_policies
    processor_lag_policy  = module.processor.lag_policy
    msk_cluster_arn       = module.msk.arn
  }
}
