output "request" {
  description = "What the topic-creator was asked."
  value       = jsondecode(aws_lambda_invocation.this.input)
}

output "result" {
  description = "What the topic-creator did, per topic."
  value       = aws_lambda_invocation.this.result
}

output "triggers" {
  description = "What makes the invocation run again besides its input."
  value       = aws_lambda_invocation.this.triggers
}
