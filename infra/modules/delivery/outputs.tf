output "bucket_name" {
  description = "The lake bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "bucket_arn" {
  description = "The lake bucket's ARN."
  value       = aws_s3_bucket.lake.arn
}

output "stream_names" {
  description = "Each pipeline's Firehose stream, which reads its aggregates topic into the lake."
  value       = { for k, s in aws_kinesis_firehose_delivery_stream.this : k => s.name }
}

output "stream_arns" {
  description = "Each pipeline's Firehose stream's ARN."
  value       = { for k, s in aws_kinesis_firehose_delivery_stream.this : k => s.arn }
}

output "tables" {
  description = "Each pipeline's Glue table (and the lake's top folder)."
  value       = { for k, t in aws_glue_catalog_table.this : k => t.name }
}

output "glue_database" {
  description = "The Glue database of the lake."
  value       = aws_glue_catalog_database.this.name
}

output "glue_columns" {
  description = "Each pipeline's Glue table's columns, as the table resource holds them."
  value       = { for k, t in aws_glue_catalog_table.this : k => [for c in t.storage_descriptor[0].columns : { name = c.name, type = c.type }] }
}

output "glue_partition_keys" {
  description = "Each pipeline's Glue table's partition keys, as the table resource holds them."
  value       = { for k, t in aws_glue_catalog_table.this : k => [for c in t.partition_keys : { name = c.name, type = c.type }] }
}

output "iam_policies" {
  description = "Every inline IAM policy of the module: each pipeline's stream's."
  value       = { for k, p in local.firehose_policies : "${k}-firehose" => p }
}

output "buffering" {
  description = "Each stream's buffering hints, as the stream resource holds them."
  value = { for k, s in aws_kinesis_firehose_delivery_stream.this : k => {
    mib     = s.extended_s3_configuration[0].buffering_size
    seconds = s.extended_s3_configuration[0].buffering_interval
  } }
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
    for k, b in {
      lake        = aws_s3_bucket_public_access_block.lake
      access_logs = aws_s3_bucket_public_access_block.access_logs
    } : k => b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets
  }
}

output "bucket_policies" {
  description = "Each bucket's policy."
  value       = { lake = aws_s3_bucket_policy.lake.policy, access_logs = aws_s3_bucket_policy.access_logs.policy }
}

output "source" {
  description = "Where each stream reads from, as the stream resource holds it: the MSK source (nothing for a DirectPut stream) and whether server-side encryption is set."
  value = { for k, s in aws_kinesis_firehose_delivery_stream.this : k => {
    msk                  = [for m in s.msk_source_configuration : { cluster = m.msk_cluster_arn, topic = m.topic_name, read_from = m.read_from_timestamp, connectivity = one(m.authentication_configuration).connectivity }]
    encryption           = length(s.server_side_encryption) > 0 && try(s.server_side_encryption[0].enabled, false)
    prefix               = s.extended_s3_configuration[0].prefix
    error_prefix         = s.extended_s3_configuration[0].error_output_prefix
    dynamic_partitioning = s.extended_s3_configuration[0].dynamic_partitioning_configuration[0].enabled
    parquet              = length(s.extended_s3_configuration[0].data_format_conversion_configuration[0].output_format_configuration[0].serializer[0].parquet_ser_de) == 1
  } }
}

output "table_parameters" {
  description = "Each Glue table's parameters (partition projection among them)."
  value       = { for k, t in aws_glue_catalog_table.this : k => t.parameters }
}

output "dedup_queries" {
  description = "Each pipeline's saved Athena query that creates its de-duplicated view."
  value       = { for k, q in aws_athena_named_query.dedup_view : k => q.query }
}
