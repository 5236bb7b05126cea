variable "name" {
  description = "Prefix of every function: <name>-topic-creator, <name>-<pipeline>-<crate>."
  type        = string
}

variable "environment" {
  description = "dev, staging or prod: the checker's metric dimension."
  type        = string
}

variable "package_dir" {
  description = "Folder holding <crate>/bootstrap.zip (./scripts/build-lambdas writes target/lambda)."
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

variable "pipelines" {
  description = "Each pipeline by name (its spec's): its topics, its Feature Group, the keys its producer generates and its checker watches (null: the key fields' listed values), and its functions' settings."
  type = map(object({
    input_topic        = string
    output_topic       = string
    feature_group_name = string
    feature_group_arn  = string
    keys               = optional(number)
    # Avro input through Glue: the registry (as created) and schema the producer registers in.
    glue_schema = optional(object({
      registry_name = string
      registry_arn  = string
      schema_arn    = string
    }))
    producer = object({
      enabled               = bool
      events_per_invocation = number
      malformed_share       = number
    })
    feature_writer = object({
      batch_size           = number
      batching_seconds     = number
      concurrency          = number
      reserved_concurrency = number
    })
    checker = object({
      freshness_seconds = number
      watch_keys        = list(string)
    })
  }))
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
  description = "The topic-creator's answer: the schedules and the feature-writers' triggers wait for it."
  type        = string
}
