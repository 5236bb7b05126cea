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
