variable "project" {
  description = "Name prefix of every resource, with the environment: <project>-<environment>."
  type        = string
  default     = "stock-ticks"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2 to 21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "The environment this state deploys: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region of every resource."
  type        = string
}

variable "account_id" {
  description = "The AWS account this environment lives in; the provider refuses any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be the 12-digit AWS account id."
  }
}

variable "network" {
  description = "The VPC: its CIDR, the availability zones of its private subnets (two or more), and whether to add a NAT gateway (nothing needs one: the AWS APIs are reached through VPC endpoints)."
  type = object({
    cidr               = string
    availability_zones = list(string)
    nat_gateway        = optional(bool, false)
  })

  validation {
    condition     = length(var.network.availability_zones) >= 2 && can(cidrnetmask(var.network.cidr))
    error_message = "network needs a valid CIDR and at least two availability zones."
  }
}

variable "topics" {
  description = "The Kafka topics the topic-creator Lambda makes the cluster hold on every apply: name, partitions and topic configs."
  type = list(object({
    name       = string
    partitions = number
    configs    = optional(map(string), {})
  }))

  validation {
    condition     = alltrue([for t in var.topics : t.partitions >= 1 && t.partitions <= 1000])
    error_message = "every topic needs 1 to 1000 partitions."
  }
}

variable "topics_to_delete" {
  description = "Topics the topic-creator deletes on the next apply, and may delete at all (its role gets DeleteTopic on these alone). Empty, as it should normally be, nothing can be deleted."
  type        = list(string)
  default     = []

  validation {
    condition     = length(setintersection(toset(var.topics_to_delete), toset([for t in var.topics : t.name]))) == 0
    error_message = "A topic cannot be both kept (topics) and deleted (topics_to_delete)."
  }
}

variable "processor" {
  description = "The processor service on Fargate (arm64): image tag in the ECR repository, task size, task counts for autoscaling, and its targets (average CPU percent, records not yet handled per task)."
  type = object({
    image_tag        = string
    cpu              = number
    memory           = number
    desired_count    = number
    min_count        = number
    max_count        = number
    delivery         = optional(string, "exactly-once")
    target_cpu       = optional(number, 60)
    target_lag       = optional(number, 50000)
    shutdown_seconds = optional(number, 25)
  })

  validation {
    condition     = var.processor.min_count >= 1 && var.processor.min_count <= var.processor.desired_count && var.processor.desired_count <= var.processor.max_count
    error_message = "processor needs 1 <= min_count <= desired_count <= max_count."
  }

  validation {
    condition     = contains(["exactly-once", "at-least-once"], var.processor.delivery)
    error_message = "processor.delivery must be exactly-once or at-least-once."
  }

  validation {
    condition     = var.processor.shutdown_seconds < 30
    error_message = "processor.shutdown_seconds must stay under ECS's 30 s stop timeout."
  }
}

variable "lambdas" {
  description = "The four functions: where their zips are (relative to infra/), the producer's load, the feature-writer's batching and concurrency, the checker's freshness threshold, and the tickers."
  type = object({
    package_dir                     = optional(string, "../target/lambda")
    tickers                         = optional(list(string), ["AMZN", "AAPL", "MSFT", "GOOGL"])
    producer_ticks_per_invocation   = optional(number, 600)
    producer_malformed_share        = optional(number, 0)
    feature_writer_batch_size       = optional(number, 100)
    feature_writer_batching_seconds = optional(number, 1)
    feature_writer_concurrency      = optional(number, 8)
    checker_freshness_seconds       = optional(number, 300)
  })
  default = {}

  validation {
    condition     = var.lambdas.producer_malformed_share >= 0 && var.lambdas.producer_malformed_share <= 1
    error_message = "lambdas.producer_malformed_share is a share from 0 to 1."
  }
}

variable "lake" {
  description = "The data lake: Firehose buffering (64 to 128 MiB, Parquet conversion's range; 60 to 900 seconds, dynamic partitioning's), and days before objects move to Standard-IA and Glacier Instant Retrieval."
  type = object({
    buffering_mib            = number
    buffering_seconds        = number
    infrequent_access_days   = number
    glacier_days             = number
    noncurrent_versions_days = optional(number, 30)
  })

  validation {
    # Firehose refuses the rest with dynamic partitioning and format conversion on (Firehose:
    # "Buffer data for dynamic partitioning": no zero buffering; BufferingHints: 1-128 MiB,
    # 0-900 s; Parquet conversion: 64 MiB or more).
    condition     = var.lake.buffering_mib >= 64 && var.lake.buffering_mib <= 128 && var.lake.buffering_seconds >= 60 && var.lake.buffering_seconds <= 900
    error_message = "lake.buffering_mib must be 64 to 128 (Parquet conversion) and lake.buffering_seconds 60 to 900 (dynamic partitioning has no zero buffering)."
  }

  validation {
    condition     = var.lake.infrequent_access_days >= 30 && var.lake.glacier_days > var.lake.infrequent_access_days
    error_message = "lake.infrequent_access_days must be at least 30 (S3's minimum) and glacier_days later."
  }
}

variable "feature_store" {
  description = "The Feature Group: days a record stays in the online store."
  type = object({
    online_ttl_days = number
  })

  validation {
    condition     = var.feature_store.online_ttl_days >= 1
    error_message = "feature_store.online_ttl_days must be at least 1."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the processor's, the Lambdas', the flow logs' and Firehose's logs."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by email)."
  type        = list(string)
  default     = []
}

variable "alarms" {
  description = "Alarm thresholds: processor lag (records behind on ticks), feature-writer lag (records behind on aggregates), dead letters as a percent of input, late events per 5 minutes, feature age in seconds, and the share of a Lambda's timeout that counts as near it."
  type = object({
    processor_lag_records      = number
    feature_writer_lag_records = number
    dead_letter_percent        = number
    late_events_per_5min       = number
    feature_age_seconds        = number
    lambda_duration_share      = optional(number, 0.8)
  })

  validation {
    condition = (
      var.alarms.processor_lag_records > 0 && var.alarms.feature_writer_lag_records > 0 &&
      var.alarms.dead_letter_percent > 0 && var.alarms.dead_letter_percent < 100 &&
      var.alarms.feature_age_seconds >= 300 &&
      var.alarms.lambda_duration_share > 0 && var.alarms.lambda_duration_share < 1
    )
    error_message = "alarms: lags above 0, dead_letter_percent between 0 and 100, feature_age_seconds at least 300 (the checker runs every 5 minutes), lambda_duration_share between 0 and 1."
  }

}

variable "runbook_base_url" {
  description = "Where docs/operations/runbooks can be read; every alarm links <base>/<runbook>.md."
  type        = string
  default     = "https://github.com/example/streaming-pipeline/blob/main/docs/operations/runbooks"
}
