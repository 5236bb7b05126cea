variable "pipeline" {
  description = "The pipeline (spec) the service runs: /etc/pipelines/<pipeline>.toml in the image."
  type        = string
}

variable "repository_url" {
  description = "The image repository (the registry module)."
  type        = string
}

variable "repository_arn" {
  description = "The image repository's ARN."
  type        = string
}

variable "name" {
  description = "Prefix of the cluster, service and roles."
  type        = string
}

variable "region" {
  description = "Region of the MSK IAM tokens and the log group."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the image and the log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days the processor's logs (and EMF metrics) are kept."
  type        = number
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in."
  type        = list(string)
}

variable "security_group_id" {
  description = "The clients' security group."
  type        = string
}

variable "cluster_arn" {
  description = "The MSK Serverless cluster."
  type        = string
}

variable "bootstrap_brokers" {
  description = "host:port of the cluster's IAM listener."
  type        = string
}

variable "kafka_arn_pattern" {
  description = "format(pattern, \"topic\") + \"/NAME\" is a topic's ARN (see the msk module)."
  type        = string
}

variable "input_topic" {
  description = "The pipeline's input topic."
  type        = string
}

variable "output_topic" {
  description = "The pipeline's aggregates topic."
  type        = string
}

variable "replay_topic" {
  description = "The topic `processor replay` re-publishes to and a backfill processor (group <pipeline>-processor-backfill) reads."
  type        = string
}

variable "dead_letter_topic" {
  description = "The dead-letter topic."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the processor's EMF metrics."
  type        = string
}

variable "image_tag" {
  description = "Tag of the processor image in the repository."
  type        = string
}

variable "cpu" {
  description = "Task CPU units (1024 = 1 vCPU)."
  type        = number
}

variable "memory" {
  description = "Task memory, MiB."
  type        = number
}

variable "desired_count" {
  description = "Tasks at first deploy (autoscaling moves it afterwards)."
  type        = number
}

variable "min_count" {
  description = "Fewest tasks autoscaling keeps."
  type        = number
}

variable "max_count" {
  description = "Most tasks autoscaling runs (more than the input partitions would idle)."
  type        = number
}

variable "delivery" {
  description = "exactly-once or at-least-once."
  type        = string
}

variable "target_cpu" {
  description = "Average CPU percent autoscaling aims for."
  type        = number
}

variable "target_lag" {
  description = "Records not yet handled per task (the processor's ConsumerLagTotal, averaged over the tasks) autoscaling aims for."
  type        = number
}

variable "shutdown_seconds" {
  description = "Bound on the processor's graceful shutdown, under ECS's 30 s stop timeout."
  type        = number
}

variable "topics_ready" {
  description = "The topic-creator's answer: the service is created only after it, so its tasks find their topics."
  type        = string
}

variable "glue_schema" {
  description = "For a spec that reads Avro through Glue: the registry (its name as created, with the environment's prefix, and ARN) and the schema. Null for JSON input."
  type = object({
    registry_name = string
    registry_arn  = string
    schema_arn    = string
  })
  default = null
}
