output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "One private subnet per availability zone."
  value       = aws_subnet.private[*].id
}

output "clients_security_group_id" {
  description = "Security group of the processor tasks and the Lambdas."
  value       = aws_security_group.clients.id
}

output "endpoints_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}

output "interface_endpoints" {
  description = "Services reached through interface endpoints."
  value       = sort(keys(aws_vpc_endpoint.interface))
}

output "iam_policies" {
  description = "Every inline IAM policy of the module, by name."
  value       = { flow_logs = local.flow_logs_policy }
}
