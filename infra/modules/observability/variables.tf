variable "name" {
  description = "Prefix of the alarm topic."
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
