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

variable "bucket_name" {
  description = "The lake bucket; the offline store writes under feature-store/."
  type        = string
}

variable "glue_database" {
  description = "The Glue database the offline store's table is made in."
  type        = string
}

variable "schema" {
  description = "The generated schema's feature group part (infra/schema.json): record identifier, event time, features."
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
