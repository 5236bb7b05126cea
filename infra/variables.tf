variable "project" {
  description = "Name prefix of every resource, with the environment: <project>-<environment>, and <project>-<environment>-<pipeline> for a pipeline's own."
  type        = string
  default     = "streaming"

  validation {
    # With a 7-letter environment and a 20-letter pipeline (the spec's most), the longest name,
    # <project>-<environment>-<pipeline>-feature-writer, stays within Lambda's and IAM's 64.
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project))
    error_message = "project must be 2 to 16 lowercase letters, digits or hyphens, starting with a letter."
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

variable "pipeline_defaults" {
  description = "How every pipeline runs unless pipelines says otherwise. Every spec generated into infra/pipelines/<name>.json (config/pipelines/<name>.toml, then ./scripts/pipeline-schemas) is deployed: partitions of its input, aggregates and replay topics and of its dead-letter topic, days each topic keeps records, its processor's size and autoscaling, its producer's load (a synthetic feed; off for real input), how many keys the producer generates and the checker watches (null: the key fields' listed values), or the record identifiers the checker watches instead. enabled = false leaves a pipeline out."
  type = object({
    enabled                = optional(bool, true)
    partitions             = optional(number, 3)
    dead_letter_partitions = optional(number, 1)
    retention_days = optional(object({
      input       = optional(number, 7)
      output      = optional(number, 14)
      dead_letter = optional(number, 30)
    }), {})
    keys = optional(number)
    processor = optional(object({
      cpu           = optional(number, 256)
      memory        = optional(number, 512)
      desired_count = optional(number, 1)
      min_count     = optional(number, 1)
      max_count     = optional(number, 2)
      target_cpu    = optional(number, 60)
      target_lag    = optional(number, 50000)
    }), {})
    producer = optional(object({
      enabled               = optional(bool, true)
      events_per_invocation = optional(number, 600)
      malformed_share       = optional(number, 0)
    }), {})
    checker = optional(object({
      watch_keys = optional(list(string), [])
    }), {})
  })
  default = {}
}

variable "pipelines" {
  description = "Per pipeline, by spec name, settings that replace pipeline_defaults for it (whole: an attribute not given takes its type's default, not pipeline_defaults')."
  type = map(object({
    enabled                = optional(bool, true)
    partitions             = optional(number, 3)
    dead_letter_partitions = optional(number, 1)
    retention_days = optional(object({
      input       = optional(number, 7)
      output      = optional(number, 14)
      dead_letter = optional(number, 30)
    }), {})
    keys = optional(number)
    processor = optional(object({
      cpu           = optional(number, 256)
      memory        = optional(number, 512)
      desired_count = optional(number, 1)
      min_count     = optional(number, 1)
      max_count     = optional(number, 2)
      target_cpu    = optional(number, 60)
      target_lag    = optional(number, 50000)
    }), {})
    producer = optional(object({
      enabled               = optional(bool, true)
      events_per_invocation = optional(number, 600)
      malformed_share       = optional(number, 0)
    }), {})
    checker = optional(object({
      watch_keys = optional(list(string), [])
    }), {})
  }))
  default = {}

  validation {
    condition     = alltrue([for name, _ in var.pipelines : fileexists("${path.module}/pipelines/${name}.json")])
    error_message = "Every key of pipelines must name a spec generated into infra/pipelines/<name>.json (config/pipelines/<name>.toml, then ./scripts/pipeline-schemas)."
  }

  validation {
    condition     = length([for name in local.available : name if lookup(var.pipelines, name, var.pipeline_defaults).enabled]) > 0
    error_message = "At least one pipeline must be enabled."
  }

  validation {
    condition     = alltrue([for p in concat([var.pipeline_defaults], values(var.pipelines)) : p.partitions >= 1 && p.partitions <= 1000 && p.dead_letter_partitions >= 1 && p.dead_letter_partitions <= 1000])
    error_message = "Every topic needs 1 to 1000 partitions."
  }

  validation {
    condition     = alltrue([for p in concat([var.pipeline_defaults], values(var.pipelines)) : p.processor.min_count >= 1 && p.processor.min_count <= p.processor.desired_count && p.processor.desired_count <= p.processor.max_count])
    error_message = "Each pipeline's processor needs 1 <= min_count <= desired_count <= max_count."
  }

  validation {
    condition     = alltrue([for p in concat([var.pipeline_defaults], values(var.pipelines)) : p.producer.malformed_share >= 0 && p.producer.malformed_share <= 1 && p.producer.events_per_invocation >= 1 && p.producer.events_per_invocation <= 100000])
    error_message = "Each producer's malformed_share is a share from 0 to 1, and events_per_invocation 1 to 100000."
  }

  validation {
    condition     = alltrue([for p in concat([var.pipeline_defaults], values(var.pipelines)) : p.keys == null || try(p.keys >= 1 && p.keys <= 1000, false)])
    error_message = "keys is 1 to 1000 (the checker watches every one), or null for the key fields' listed values."
  }

  validation {
    condition     = alltrue([for p in concat([var.pipeline_defaults], values(var.pipelines)) : alltrue([for d in values(p.retention_days) : d >= 1])])
    error_message = "Topics keep records at least a day."
  }
}

variable "topics_to_delete" {
  description = "Topics the topic-creator deletes on the next apply, and may delete at all (its role gets DeleteTopic on these alone). Empty, as it should normally be, nothing can be deleted."
  type        = list(string)
  default     = []

  validation {
    condition     = length(setintersection(toset(var.topics_to_delete), toset([for t in local.topics : t.name]))) == 0
    error_message = "A topic cannot be both kept (a pipeline's) and deleted (topics_to_delete)."
  }
}

variable "processor" {
  description = "What every pipeline's processor service on Fargate (arm64) shares: the image tag in the ECR repository, the delivery mode and the graceful-shutdown bound. Sizes are per pipeline (pipelines)."
  type = object({
    image_tag        = string
    delivery         = optional(string, "exactly-once")
    shutdown_seconds = optional(number, 25)
  })

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
  description = "What every pipeline's functions share: where their zips are (relative to infra/), the feature-writers' batching and concurrency, the checkers' freshness threshold. The producers' load is per pipeline (pipelines)."
  type = object({
    package_dir                     = optional(string, "../target/lambda")
    feature_writer_batch_size       = optional(number, 100)
    feature_writer_batching_seconds = optional(number, 1)
    feature_writer_concurrency      = optional(number, 8)
    checker_freshness_seconds       = optional(number, 300)
  })
  default = {}
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
  description = "Alarm thresholds, for every pipeline: processor lag (records behind on its input), feature-writer lag (records behind on its aggregates), dead letters as a percent of input, late events per 5 minutes, feature age in seconds, and the share of a Lambda's timeout that counts as near it."
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
