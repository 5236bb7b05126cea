# The data lake: one bucket and Glue database for every pipeline, and for each pipeline a Glue
# table and a Firehose stream. Each stream reads its pipeline's aggregates topic itself (its
# Amazon MSK source, private connectivity, IAM), converts each record to Parquet against its
# table and writes it under <table>/year=/month=/day=/ by the aggregate's window_end. Columns,
# partitioning and the timestamp format all come from infra/pipelines/<name>.json, which the
# spec generates (`processor schema`). The durable copy is the topic: Firehose keeps its own
# position in it, so nothing lake-bound lives only in a process's memory; records read twice
# (after a Firehose retry) are identical and carry their aggregate_id, which the Athena view below de-duplicates on.

# Access logs of the lake bucket. S3 server access logging writes with SSE-S3 only.
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This bucket receives the lake's access logs; logging it to itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are kept in one region; the lake they describe is not replicated either.
  #checkov:skip=CKV_AWS_145:S3 server access logging can only deliver to buckets encrypted with SSE-S3.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new access-log objects.
  bucket = "${var.name}-lake-access-logs-${var.account_id}"
}

resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV_AWS_144:The lake is rebuilt from Kafka and the Feature Group's offline store; cross-region replication is a cost each account decides on.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new lake objects; Athena and Glue read them on demand.
  bucket = "${var.name}-lake-${var.account_id}"
}

# Each bucket's public access block, ownership and versioning, written out per bucket rather
# than as one for_each over the two bucket resources: checkov links a for_each over resource
# objects to its buckets unreliably (it stopped finding these once the stack gained the schemas
# module), and then reports both buckets as unprotected.
resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

moved {
  from = aws_s3_bucket_public_access_block.this["lake"]
  to   = aws_s3_bucket_public_access_block.lake
}

moved {
  from = aws_s3_bucket_public_access_block.this["access_logs"]
  to   = aws_s3_bucket_public_access_block.access_logs
}

moved {
  from = aws_s3_bucket_ownership_controls.this["lake"]
  to   = aws_s3_bucket_ownership_controls.lake
}

moved {
  from = aws_s3_bucket_ownership_controls.this["access_logs"]
  to   = aws_s3_bucket_ownership_controls.access_logs
}

moved {
  from = aws_s3_bucket_versioning.this["lake"]
  to   = aws_s3_bucket_versioning.lake
}

moved {
  from = aws_s3_bucket_versioning.this["access_logs"]
  to   = aws_s3_bucket_versioning.access_logs
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_logging" "lake" {
  bucket        = aws_s3_bucket.lake.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "lake/"
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    id     = "tier-down"
    status = "Enabled"
    filter {}
    transition {
      days          = var.infrequent_access_days
      storage_class = "STANDARD_IA"
    }
    transition {
      days          = var.glacier_days
      storage_class = "GLACIER_IR"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_versions_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# TLS only, for both buckets; the access-log bucket takes writes from S3's logging service only.
resource "aws_s3_bucket_policy" "lake" {
  bucket = aws_s3_bucket.lake.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TlsOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.lake, aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "TlsOnly"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "S3ServerAccessLogs"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.access_logs.arn}/lake/*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
          ArnLike      = { "aws:SourceArn" = aws_s3_bucket.lake.arn }
        }
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.lake, aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_glue_catalog_database" "this" {
  name        = replace(var.name, "-", "_")
  description = "The streaming pipeline's lake (${var.name})"
}

# One table a pipeline, under its own top folder of the lake.
resource "aws_glue_catalog_table" "this" {
  for_each      = var.pipelines
  name          = local.tables[each.key]
  database_name = aws_glue_catalog_database.this.name
  description   = "The ${each.key} pipeline's aggregates, one per key and window; columns generated from its spec"
  table_type    = "EXTERNAL_TABLE"
  # Partition projection: Athena computes the partitions from these ranges and the location
  # template instead of reading them from the catalog, so a new day is queryable the moment
  # Firehose writes it, with no MSCK REPAIR or crawler (Athena: "Partition projection with
  # Amazon Athena", integer type with digits).
  parameters = merge(
    {
      classification              = "parquet"
      "parquet.compression"       = "SNAPPY"
      "projection.enabled"        = "true"
      "storage.location.template" = "s3://${aws_s3_bucket.lake.bucket}/${local.tables[each.key]}/${join("/", [for k in each.value.schema.partition_keys : "${k.name}=$${${k.name}}"])}/"
    },
    merge([
      for k in each.value.schema.partition_keys : {
        "projection.${k.name}.type"   = "integer"
        "projection.${k.name}.range"  = local.projection_ranges[k.name]
        "projection.${k.name}.digits" = local.projection_digits[k.name]
      }
    ]...)
  )

  dynamic "partition_keys" {
    for_each = each.value.schema.partition_keys
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/${local.tables[each.key]}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = each.value.schema.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_cloudwatch_log_group" "firehose" {
  for_each          = var.pipelines
  name              = "/aws/kinesisfirehose/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_cloudwatch_log_stream" "firehose" {
  for_each       = var.pipelines
  name           = "DestinationDelivery"
  log_group_name = aws_cloudwatch_log_group.firehose[each.key].name
}

resource "aws_iam_role" "firehose" {
  for_each = var.pipelines
  name     = "${var.name}-${each.key}-firehose"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = var.account_id } }
    }]
  })
}

locals {
  # The ranges of the year=/month=/day= partition keys Firehose writes (infra/pipelines/*.json).
  projection_ranges = { year = "2020,2099", month = "1,12", day = "1,31" }
  projection_digits = { year = "4", month = "2", day = "2" }

  # Each pipeline's table and top folder: its name as Glue and Athena spell identifiers.
  tables = { for name, _ in var.pipelines : name => replace(name, "-", "_") }

  # Each stream reads its pipeline's aggregates topic, writes its folder, converts against its
  # table.
  firehose_policies = { for name, p in var.pipelines : name => jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteTheLake"
        Effect   = "Allow"
        Action   = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"]
        Resource = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/${local.tables[name]}/*", "${aws_s3_bucket.lake.arn}/errors/${local.tables[name]}/*"]
      },
      {
        Sid    = "ReadTheTableSchema"
        Effect = "Allow"
        Action = ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"]
        Resource = [
          "arn:aws:glue:${var.region}:${var.account_id}:catalog",
          "arn:aws:glue:${var.region}:${var.account_id}:database/${aws_glue_catalog_database.this.name}",
          "arn:aws:glue:${var.region}:${var.account_id}:table/${aws_glue_catalog_database.this.name}/${local.tables[name]}",
        ]
      },
      {
        Sid      = "EncryptWithTheKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
      {
        # Firehose's MSK source (Firehose: "Grant Firehose access to your private Amazon MSK
        # cluster"): find the brokers, connect with IAM, read the one topic.
        Sid      = "FindAndConnectToTheCluster"
        Effect   = "Allow"
        Action   = ["kafka:GetBootstrapBrokers", "kafka:DescribeCluster", "kafka:DescribeClusterV2", "kafka-cluster:Connect"]
        Resource = [var.cluster_arn]
      },
      {
        Sid      = "ReadTheAggregatesTopic"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:ReadData"]
        Resource = ["${format(var.kafka_arn_pattern, "topic")}/${p.topic}"]
      },
      {
        Sid      = "DescribeItsGroup"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeGroup"]
        Resource = ["${format(var.kafka_arn_pattern, "group")}/*"]
      },
      {
        Sid      = "LogDeliveryErrors"
        Effect   = "Allow"
        Action   = ["logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.firehose[name].arn}:*"]
      },
    ]
  }) }
}

resource "aws_iam_role_policy" "firehose" {
  for_each = var.pipelines
  name     = "deliver-to-the-lake"
  role     = aws_iam_role.firehose[each.key].id
  policy   = local.firehose_policies[each.key]
}

# The stream is created once the cluster's policy lets Firehose connect: before, creating its
# private connection fails.
resource "terraform_data" "cluster_policy" {
  input = var.cluster_policy
}

resource "aws_kinesis_firehose_delivery_stream" "this" {
  #checkov:skip=CKV_AWS_240:Firehose takes server-side encryption only for a DirectPut source (API reference, StartDeliveryStreamEncryption); this stream reads MSK, which encrypts the records at rest, TLS carries them, and the lake bucket's KMS key encrypts the files.
  #checkov:skip=CKV_AWS_241:As above: no server-side encryption setting exists for a stream with an MSK source.
  for_each    = var.pipelines
  name        = "${var.name}-${each.key}"
  destination = "extended_s3"

  # Firehose reads the topic from its first record (the epoch: the API's "earliest"), so a
  # replaced stream re-reads what the topic still holds rather than skipping it.
  msk_source_configuration {
    msk_cluster_arn     = var.cluster_arn
    topic_name          = each.value.topic
    read_from_timestamp = "1970-01-01T00:00:00Z"

    authentication_configuration {
      connectivity = "PRIVATE"
      role_arn     = aws_iam_role.firehose[each.key].arn
    }
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose[each.key].arn
    bucket_arn          = aws_s3_bucket.lake.arn
    kms_key_arn         = var.kms_key_arn
    prefix              = "${local.tables[each.key]}/${each.value.schema.prefix}"
    error_output_prefix = "errors/${local.tables[each.key]}/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    buffering_size      = var.buffering_mib
    buffering_interval  = var.buffering_seconds

    dynamic_partitioning_configuration {
      enabled = true
    }

    processing_configuration {
      enabled = true
      processors {
        type = "MetadataExtraction"
        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = each.value.schema.partition_query
        }
      }
    }

    data_format_conversion_configuration {
      input_format_configuration {
        deserializer {
          hive_json_ser_de {
            timestamp_formats = each.value.schema.timestamp_formats
          }
        }
      }
      output_format_configuration {
        serializer {
          parquet_ser_de {
            compression = "SNAPPY"
          }
        }
      }
      schema_configuration {
        database_name = aws_glue_catalog_database.this.name
        table_name    = aws_glue_catalog_table.this[each.key].name
        role_arn      = aws_iam_role.firehose[each.key].arn
        region        = var.region
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose[each.key].name
      log_stream_name = aws_cloudwatch_log_stream.firehose[each.key].name
    }
  }
  depends_on = [terraform_data.cluster_policy, aws_iam_role_policy.firehose]
}

# The lake without the copies an at-least-once read can leave (a record Firehose read twice is
# identical, with the same aggregate_id): what to query. Saved in Athena's primary workgroup;
# run it once to create the view.
resource "aws_athena_named_query" "dedup_view" {
  for_each    = var.pipelines
  name        = "${var.name}-create-${local.tables[each.key]}-view"
  description = "Creates the ${local.tables[each.key]}_dedup view: one row per aggregate_id."
  database    = aws_glue_catalog_database.this.name
  query       = <<-SQL
    CREATE OR REPLACE VIEW ${local.tables[each.key]}_dedup AS
    SELECT ${join(", ", [for c in each.value.schema.columns : "\"${c.name}\""])}, ${join(", ", [for k in each.value.schema.partition_keys : k.name])}
    FROM (
      SELECT *, row_number() OVER (PARTITION BY aggregate_id ORDER BY ${join(", ", [for k in each.value.schema.partition_keys : k.name])}) AS copy
      FROM ${local.tables[each.key]}
    )
    WHERE copy = 1
  SQL
}
