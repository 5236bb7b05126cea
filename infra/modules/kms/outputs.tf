output "key_arn" {
  description = "ARN of the environment's key."
  value       = aws_kms_key.this.arn
}

output "key_policy" {
  description = "The key policy, for the tests."
  value       = aws_kms_key.this.policy
}
