variable "name" {
  description = "Prefix of the alarm topic, the alarms and the dashboards."
  type        = string
}

variable "environment" {
  description = "dev, staging or prod: the checker's metric dimension."
  type        = string
}

variable "region" {
  description = "Region of the dashboard's widgets."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the topic."
  type        = string
}

variable "emails" {
  description = "Addresses subscribed to the alarm topic."
  type        = list(string)
}

variable "runbook_base_url" {
  description = "Where docs/operations/runbooks is browsable; each alarm's description links <base>/<runbook>.md."
  type        = string
}

variable "metrics_namespace" {
  description = "Namespace of the processor's EMF metrics and the checker's metrics."
  type        = string
}

variable "msk_cluster_name" {
  description = "The MSK cluster (AWS/Kafka's Cluster Name dimension)."
  type        = string
}

variable "pipelines" {
  description = "Each pipeline by name: its processor (ECS cluster and service, log group, consumer group, input topic, fewest tasks), its aggregates topic, its Firehose stream, its feature-writer's function and failure queue, and its spec's checks (for the sanity alarm's description)."
  type = map(object({
    processor = object({
      cluster     = string
      service     = string
      log_group   = string
      group       = string
      input_topic = string
      min_tasks   = number
    })
    output_topic                 = string
    firehose_stream              = string
    feature_writer_function      = string
    feature_writer_failure_queue = string
    checks                       = list(string)
  }))
}

variable "lambda_functions" {
  description = "Each Lambda by key (topic-creator, <pipeline>-<crate>): its function name and timeout in seconds."
  type = map(object({
    function_name = string
    timeout       = number
  }))
}

variable "lake_buffer_seconds" {
  description = "The Firehose stream's buffer interval: how long an aggregate may wait in Firehose by design."
  type        = number
}

variable "lambda_failure_queue" {
  description = "The Lambdas' shared failure queue: failed scheduled invocations and feature-writer batches their triggers gave up on."
  type        = string
}

variable "thresholds" {
  description = "Per-environment alarm thresholds: processor lag (records on the input topic), feature-writer lag (records on the aggregates topic), dead letters as a percent of input, late events per 5 minutes, feature age in seconds, and the share of a Lambda's timeout that counts as near it."
  type = object({
    processor_lag_records      = number
    feature_writer_lag_records = number
    dead_letter_percent        = number
    late_events_per_5min       = number
    feature_age_seconds        = number
    lambda_duration_share      = optional(number, 0.8)
  })
}
