output "repository_url" {
  description = "Where to push the processor image (docs/deploy.md)."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "The repository's ARN, for the tasks' execution roles."
  value       = aws_ecr_repository.this.arn
}
