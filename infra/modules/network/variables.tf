variable "name" {
  description = "Prefix of every resource's Name tag."
  type        = string
}

variable "region" {
  description = "Region, for the VPC endpoints' service names."
  type        = string
}

variable "cidr" {
  description = "The VPC's CIDR; private subnets take /20s of it, a public one (NAT only) the last /24."
  type        = string
}

variable "availability_zones" {
  description = "One private subnet in each (two or more)."
  type        = list(string)
}

variable "nat_gateway" {
  description = "Add a public subnet, internet gateway and NAT gateway (not needed: the AWS APIs are reached through endpoints)."
  type        = bool
  default     = false
}

# ECR (api, dkr) and logs for the tasks to start; monitoring, sqs and
# sagemaker.featurestore-runtime for what the code calls; kafka for GetBootstrapBrokers; xray for
# traces; lambda and sts because the MSK event source mapping's pollers run in these subnets and
# must reach both. (Firehose reads the cluster over a connection of its own: no endpoint.)
variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints, by their endpoint suffix."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "monitoring", "sts", "kafka", "sqs", "sagemaker.featurestore-runtime", "xray", "lambda"]
}

variable "kms_key_arn" {
  description = "Key of the flow logs' log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days the flow logs are kept."
  type        = number
}
