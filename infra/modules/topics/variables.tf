variable "function_name" {
  description = "The topic-creator Lambda."
  type        = string
}

variable "topics" {
  description = "Topics the cluster must hold."
  type = list(object({
    name       = string
    partitions = number
    configs    = optional(map(string), {})
  }))
}

variable "delete" {
  description = "Topics to delete (none by default)."
  type        = list(string)
  default     = []
}

variable "cluster_arn" {
  description = "The cluster the topics are made on: a new one is asked again."
  type        = string
}
