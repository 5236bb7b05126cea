variable "name" {
  description = "Prefix of the key's alias: alias/<name>."
  type        = string
}

variable "account_id" {
  description = "The account whose IAM policies may use the key."
  type        = string
}

variable "region" {
  description = "Region of the services that encrypt with the key (CloudWatch Logs)."
  type        = string
}
