variable "name" {
  description = "Prefix of every function: <name>-<function>."
  type        = string
}

variable "environment" {
  description = "dev, staging or prod: the checker's metric dimension."
  type        = string
}

variable "package_dir" {
  description = "Folder holding <function>/bootstrap.zip (./scripts/build-lambdas writes target/lambda)."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the environment variables, queues and log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Days the functions' logs are kept."
  type        = number
}

variable "subnet_ids" {
  description = "Private subnets the functions run in."
  type        = list(string)
}

variable "security_group_id" {
  description = "The clients' security group (MSK and the VPC endpoints)."
  type        = string
}

variable "cluster_arn" {
  description = "The MSK Serverless cluster."
  type        = string
}

variable "kafka_arn_pattern" {
  description = "format(pattern, \"topic\") + \"/NAME\" is a topic's ARN (see the msk module)."
  type        = string
}

variable "input_topic" {
  description = "The topic the producer writes ticks to."
  type        = string
}

variable "output_topic" {
  description = "The aggregates topic the feature-writer reads."
  type        = string
}

variable "feature_group_name" {
  description = "The Feature Group the feature-writer writes and the checker reads."
  type        = string
}

variable "feature_group_arn" {
  description = "The Feature Group's ARN."
  type        = string
}

variable "tickers" {
  description = "The tickers the producer generates and the checker expects."
  type        = list(string)
}

variable "producer_ticks_per_invocation" {
  description = "Ticks the producer sends each minute."
  type        = number
}

variable "producer_malformed_share" {
  description = "Share of deliberately broken ticks (0 to 1)."
  type        = number
}

variable "feature_writer_batch_size" {
  description = "Records per feature-writer invocation at most."
  type        = number
}

variable "feature_writer_batching_seconds" {
  description = "Seconds the event source mapping gathers records before invoking."
  type        = number
}

variable "feature_writer_concurrency" {
  description = "PutRecord calls in flight per invocation."
  type        = number
}

variable "feature_writer_reserved_concurrency" {
  description = "Concurrent feature-writer invocations (MSK invokes one per partition at most)."
  type        = number
}

variable "checker_freshness_seconds" {
  description = "Age of the latest window end beyond which a ticker is stale."
  type        = number
}

variable "metrics_namespace" {
  description = "The checker's CloudWatch namespace."
  type        = string
}

variable "region" {
  description = "Region of the functions' network interfaces."
  type        = string
}

variable "account_id" {
  description = "Account of the functions' network interfaces."
  type        = string
}

variable "topics_to_delete" {
  description = "Topics the topic-creator may delete (DeleteTopic is granted on these only; none by default)."
  type        = list(string)
  default     = []
}

variable "topics_ready" {
  description = "The topic-creator's answer: the producer's schedule and the feature-writer's trigger wait for it."
  type        = string
}
