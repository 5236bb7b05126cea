variable "name" {
  description = "Cluster name."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cluster's security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the cluster is reachable in (two or more AZs)."
  type        = list(string)
}

variable "client_security_group_id" {
  description = "The only security group allowed to connect (processor tasks and Lambdas)."
  type        = string
}

variable "endpoints_security_group_id" {
  description = "The interface endpoints' security group: the event source mapping's pollers, in the cluster's group, call STS and Lambda through it."
  type        = string
}
