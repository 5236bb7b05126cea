output "schemas" {
  description = "Each pipeline's registry (its name as created, and ARN) and schema ARN, for the processor's and the producer's IAM and settings."
  value = {
    for p, s in aws_glue_schema.this : p => {
      registry_name = aws_glue_registry.this[var.pipelines[p].registry].registry_name
      registry_arn  = aws_glue_registry.this[var.pipelines[p].registry].arn
      schema_arn    = s.arn
    }
  }
}
