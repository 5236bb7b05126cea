variable "name" {
  description = "The Feature Group's name."
  type        = string
}

variable "region" {
  description = "Region of the Glue catalog."
  type        = string
}

variable "account_id" {
  description = "Account of the Glue catalog."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the online and offline stores."
  type        = string
}

variable "pipeline" {
  description = "The pipeline (spec) whose aggregates the group holds."
  type        = string
}

variable "bucket_name" {
  description = "The lake bucket; the offline store writes under offline_prefix."
  type        = string
}

variable "offline_prefix" {
  description = "Where in the bucket the offline store writes (ends in /)."
  type        = string

  validation {
    condition     = endswith(var.offline_prefix, "/")
    error_message = "offline_prefix must end in /."
  }
}

variable "glue_database" {
  description = "The Glue database the offline store's table is made in."
  type        = string
}

variable "schema" {
  description = "The generated feature group part (infra/pipelines/<name>.json): record identifier, event time, features."
  type = object({
    record_identifier = string
    event_time        = string
    features          = list(object({ name = string, type = string }))
  })
}

variable "online_ttl_days" {
  description = "Days a record stays in the online store."
  type        = number
}
