output "processor_repository_url" {
  description = "Push the processor image here, tagged with processor.image_tag (docs/deploy.md); every pipeline's service runs it."
  value       = module.registry.repository_url
}

output "pipelines" {
  description = "The pipelines deployed, by spec name: topics, ECS cluster and service, functions, Firehose stream, Glue table, Feature Group, dashboard."
  value = { for name, spec in local.specs : name => {
    topics          = spec.topics
    ecs             = { cluster = module.processor[name].cluster_name, service = module.processor[name].service_name }
    consumer_group  = module.processor[name].consumer_group
    functions       = { for k, f in module.lambdas.function_names : trimprefix(k, "${name}-") => f if startswith(k, "${name}-") }
    firehose_stream = module.delivery.stream_names[name]
    glue_table      = module.delivery.tables[name]
    feature_group   = module.feature_store[name].name
    dashboard       = module.observability.dashboard_names[name]
  } }
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
  description = "Function names, by key: topic-creator, <pipeline>-<crate>."
  value       = module.lambdas.function_names
}

output "lake_bucket" {
  description = "The data lake bucket: <table>/ from each pipeline's Firehose stream, feature-store/<pipeline>/ from each Feature Group."
  value       = module.delivery.bucket_name
}

output "glue_database" {
  description = "The lake's Glue database, for Athena."
  value       = module.delivery.glue_database
}

output "alarm_topic_arn" {
  description = "The SNS topic alarms notify."
  value       = module.observability.alarm_topic_arn
}

output "alarms" {
  description = "Every alarm by name: description (with its runbook link), actions, threshold, missing-data treatment, metrics."
  value       = module.observability.alarms
}

output "composite_alarm_rules" {
  description = "What each pipeline's pipeline-not-delivering fires on."
  value       = module.observability.composite_rules
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
    merge([for p, m in module.feature_store : { for k, v in m.iam_policies : "feature_store.${p}.${k}" => v }]...),
    { for k, v in module.lambdas.iam_policies : "lambdas.${k}" => v },
    merge([for p, m in module.processor : { for k, v in m.iam_policies : "processor.${p}.${k}" => v }]...),
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
    features              = { for p, m in module.feature_store : p => m.features }
    online_ttl_days       = { for p, m in module.feature_store : p => m.online_ttl_days }
    lambda_architectures  = module.lambdas.architectures
    lambda_runtimes       = module.lambdas.runtimes
    lambda_environments   = module.lambdas.environments
    lambda_schedules      = module.lambdas.schedules
    event_source_mappings = module.lambdas.event_source_mappings
    processor_task        = { for p, m in module.processor : p => m.task }
    processor_scaling     = { for p, m in module.processor : p => m.scaling }
    processor_log_days    = { for p, m in module.processor : p => m.log_retention_days }
    interface_endpoints   = module.network.interface_endpoints
    lambda_timeouts       = module.lambdas.timeouts
    lake_source           = module.delivery.source
    table_parameters      = module.delivery.table_parameters
    dedup_queries         = module.delivery.dedup_queries
    cluster_policy        = module.msk.cluster_policy
    cluster_sg            = module.msk.security_group_id
    cluster_sg_rules      = module.msk.security_group_rules
    endpoints_sg          = module.network.endpoints_security_group_id
    topic_triggers        = module.topics.triggers
    topics_result         = module.topics.result
    lambda_managed        = module.lambdas.managed_policies
    processor_lag_policy  = { for p, m in module.processor : p => m.lag_policy }
    msk_cluster_arn       = module.msk.arn
  }
}
