variable "name" {
  description = "Prefix of the alarm topic, the alarms and the dashboard."
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

variable "processor" {
  description = "The processor: ECS cluster and service, log group, consumer group, input topic, and the fewest tasks it should run."
  type = object({
    cluster     = string
    service     = string
    log_group   = string
    group       = string
    input_topic = string
    min_tasks   = number
  })
}

variable "lambda_functions" {
  description = "Each Lambda by crate name: its function name and timeout in seconds."
  type = map(object({
    function_name = string
    timeout       = number
  }))
}

variable "firehose_stream_name" {
  description = "The Firehose stream of aggregates."
  type        = string
}

variable "lake_buffer_seconds" {
  description = "The Firehose stream's buffer interval: how long an aggregate may wait in Firehose by design."
  type        = number
}

variable "failure_queues" {
  description = "The Lambdas' two failure queues by name: failed invocations and batches (lambda), aggregates set aside by the feature-writer (feature_writer)."
  type = object({
    lambda         = string
    feature_writer = string
  })
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
