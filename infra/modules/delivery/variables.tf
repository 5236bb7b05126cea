variable "name" {
  description = "Prefix of the buckets, the Glue database, the streams and their roles."
  type        = string
}

variable "region" {
  description = "Region of the Glue table Firehose converts against."
  type        = string
}

variable "account_id" {
  description = "Account of the Glue catalog."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the lake bucket, the stream and its logs."
  type        = string
}

variable "pipelines" {
  description = "Each pipeline by name: the aggregates topic its stream reads, and its generated lake schema (infra/pipelines/<name>.json): columns, partition keys, timestamp formats, partition query and prefix."
  type = map(object({
    topic = string
    schema = object({
      columns           = list(object({ name = string, type = string }))
      partition_keys    = list(object({ name = string, type = string }))
      timestamp_formats = list(string)
      partition_query   = string
      prefix            = string
    })
  }))
}

variable "cluster_arn" {
  description = "The MSK cluster Firehose reads the aggregates from."
  type        = string
}

variable "kafka_arn_pattern" {
  description = "format(pattern, \"topic\") + \"/NAME\" is a topic's ARN (see the msk module)."
  type        = string
}

variable "cluster_policy" {
  description = "The cluster's resource policy (letting Firehose connect): the stream waits for it."
  type        = string
}

variable "buffering_mib" {
  description = "Firehose buffer size before a file is written (64 to 128 with Parquet conversion)."
  type        = number

  validation {
    condition     = var.buffering_mib >= 64 && var.buffering_mib <= 128
    error_message = "buffering_mib must be 64 to 128: Parquet conversion and dynamic partitioning need at least 64 MiB, and 128 is the API's most."
  }
}

variable "buffering_seconds" {
  description = "Firehose buffer interval before a file is written (60 to 900 with dynamic partitioning)."
  type        = number

  validation {
    condition     = var.buffering_seconds >= 60 && var.buffering_seconds <= 900
    error_message = "buffering_seconds must be 60 to 900: dynamic partitioning has no zero buffering (below 60 s), and 900 is the API's most."
  }
}

variable "infrequent_access_days" {
  description = "Days before lake objects move to Standard-IA."
  type        = number
}

variable "glacier_days" {
  description = "Days before lake objects move to Glacier Instant Retrieval."
  type        = number
}

variable "noncurrent_versions_days" {
  description = "Days an overwritten or deleted object version is kept."
  type        = number
}

variable "log_retention_days" {
  description = "Days Firehose's error logs are kept."
  type        = number
}
