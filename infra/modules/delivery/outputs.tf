output "bucket_name" {
  description = "The lake bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "bucket_arn" {
  description = "The lake bucket's ARN."
  value       = aws_s3_bucket.lake.arn
}

output "stream_name" {
  description = "The Firehose stream the processor sends aggregates to."
  value       = aws_kinesis_firehose_delivery_stream.this.name
}

output "stream_arn" {
  description = "The Firehose stream's ARN."
  value       = aws_kinesis_firehose_delivery_stream.this.arn
}

output "glue_database" {
  description = "The Glue database of the lake."
  value       = aws_glue_catalog_database.this.name
}

output "glue_columns" {
  description = "The Glue table's columns, as the table resource holds them."
  value       = [for c in aws_glue_catalog_table.this.storage_descriptor[0].columns : { name = c.name, type = c.type }]
}

output "glue_partition_keys" {
  description = "The Glue table's partition keys, as the table resource holds them."
  value       = [for c in aws_glue_catalog_table.this.partition_keys : { name = c.name, type = c.type }]
}

output "iam_policies" {
  description = "Every inline IAM policy of the module, by name."
  value       = { firehose = local.firehose_policy }
}

output "buffering" {
  description = "The stream's buffering hints, as the stream resource holds them."
  value = {
    mib     = aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].buffering_size
    seconds = aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].buffering_interval
  }
}

output "bucket_encryption" {
  description = "Default encryption algorithm of each bucket."
  value = {
    lake        = one(one(aws_s3_bucket_server_side_encryption_configuration.lake.rule).apply_server_side_encryption_by_default).sse_algorithm
    access_logs = one(one(aws_s3_bucket_server_side_encryption_configuration.access_logs.rule).apply_server_side_encryption_by_default).sse_algorithm
  }
}

output "public_access_blocked" {
  description = "Whether each bucket blocks every kind of public access."
  value = {
    for k, b in aws_s3_bucket_public_access_block.this : k => b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets
  }
}

output "bucket_policies" {
  description = "Each bucket's policy."
  value       = { lake = aws_s3_bucket_policy.lake.policy, access_logs = aws_s3_bucket_policy.access_logs.policy }
}
