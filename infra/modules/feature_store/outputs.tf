output "name" {
  description = "The Feature Group."
  value       = aws_sagemaker_feature_group.this.feature_group_name
}

output "arn" {
  description = "The Feature Group's ARN."
  value       = aws_sagemaker_feature_group.this.arn
}

output "features" {
  description = "The Feature Group's definitions, as the resource holds them."
  value       = [for f in aws_sagemaker_feature_group.this.feature_definition : { name = f.feature_name, type = f.feature_type }]
}

output "iam_policies" {
  description = "Every inline IAM policy of the module, by name."
  value       = { feature_store = local.policy }
}

output "online_ttl_days" {
  description = "Days a record stays online, as the resource holds it."
  value       = one(one(aws_sagemaker_feature_group.this.online_store_config).ttl_duration).value
}
