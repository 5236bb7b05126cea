output "arn" {
  description = "The cluster's ARN."
  value       = aws_msk_serverless_cluster.this.arn
}

output "name" {
  description = "The cluster's name (the AWS/Kafka metrics' Cluster Name dimension)."
  value       = aws_msk_serverless_cluster.this.cluster_name
}

output "bootstrap_brokers" {
  description = "host:port of the IAM (SASL_SSL) listener."
  value       = aws_msk_serverless_cluster.this.bootstrap_brokers_sasl_iam
}

output "arn_pattern" {
  description = "format(arn_pattern, \"topic\") followed by /NAME is a topic's ARN; likewise group and transactional-id."
  value       = local.arn_pattern
}
