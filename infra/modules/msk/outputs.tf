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

output "security_group_id" {
  description = "The cluster's security group (also the event source mapping pollers')."
  value       = aws_security_group.this.id
}

output "security_group_rules" {
  description = "The cluster group's rules, as the resources hold them: direction, port, and the group or endpoint group they reach, for the tests."
  value = {
    ingress           = [for r in [aws_vpc_security_group_ingress_rule.kafka_from_clients, aws_vpc_security_group_ingress_rule.kafka_from_itself] : { port = r.from_port, peer = r.referenced_security_group_id }]
    egress            = [for r in [aws_vpc_security_group_egress_rule.kafka_to_itself, aws_vpc_security_group_egress_rule.https_to_endpoints] : { port = r.from_port, peer = r.referenced_security_group_id }]
    endpoints_ingress = { port = aws_vpc_security_group_ingress_rule.endpoints_from_pollers.from_port, peer = aws_vpc_security_group_ingress_rule.endpoints_from_pollers.referenced_security_group_id }
  }
}

output "cluster_policy" {
  description = "The cluster's resource policy (Firehose's private connection)."
  value       = aws_msk_cluster_policy.this.policy
}
