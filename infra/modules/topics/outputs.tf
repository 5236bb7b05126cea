output "request" {
  description = "What the topic-creator was asked."
  value       = jsondecode(aws_lambda_invocation.this.input)
}

output "result" {
  description = "What the topic-creator did, per topic."
  value       = aws_lambda_invocation.this.result
}
