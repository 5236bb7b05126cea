variable "name" {
  description = "Prefix of the repository: <name>-processor."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the repository."
  type        = string
}
