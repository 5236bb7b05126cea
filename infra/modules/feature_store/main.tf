# One pipeline's Feature Group, which its feature-writer upserts into and its checker reads:
# online (the latest record per key, for serving) and offline (every record, under the lake
# bucket's feature-store/<pipeline>/ prefix with a Glue table, for training). Features come from
# the pipeline's generated file, infra/pipelines/<name>.json.
resource "aws_iam_role" "this" {
  name = "${var.name}-feature-store"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sagemaker.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
    }]
  })
}

locals {
  glue_table = "${replace(var.name, "-", "_")}_features"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteTheOfflineStore"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject", "s3:GetBucketAcl", "s3:ListBucket"]
        Resource = ["arn:aws:s3:::${var.bucket_name}", "arn:aws:s3:::${var.bucket_name}/${var.offline_prefix}*"]
      },
      {
        Sid    = "KeepItsGlueTable"
        Effect = "Allow"
        Action = ["glue:CreateTable", "glue:GetTable", "glue:UpdateTable", "glue:GetDatabase"]
        Resource = [
          "arn:aws:glue:${var.region}:${var.account_id}:catalog",
          "arn:aws:glue:${var.region}:${var.account_id}:database/${var.glue_database}",
          "arn:aws:glue:${var.region}:${var.account_id}:table/${var.glue_database}/${local.glue_table}",
        ]
      },
      {
        Sid      = "EncryptWithTheKey"
        Effect   = "Allow"
        Action   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_iam_role_policy" "this" {
  name   = "offline-store"
  role   = aws_iam_role.this.id
  policy = local.policy
}

resource "aws_sagemaker_feature_group" "this" {
  feature_group_name             = var.name
  record_identifier_feature_name = var.schema.record_identifier
  event_time_feature_name        = var.schema.event_time
  role_arn                       = aws_iam_role.this.arn
  description                    = "Latest aggregate per key (online) and every aggregate (offline), features generated from the ${var.pipeline} spec"

  dynamic "feature_definition" {
    for_each = var.schema.features
    content {
      feature_name = feature_definition.value.name
      feature_type = feature_definition.value.type
    }
  }

  online_store_config {
    enable_online_store = true
    security_config {
      kms_key_id = var.kms_key_arn
    }
    ttl_duration {
      unit  = "Days"
      value = var.online_ttl_days
    }
  }

  offline_store_config {
    disable_glue_table_creation = false
    s3_storage_config {
      s3_uri     = "s3://${var.bucket_name}/${var.offline_prefix}"
      kms_key_id = var.kms_key_arn
    }
    data_catalog_config {
      catalog    = "AwsDataCatalog"
      database   = var.glue_database
      table_name = local.glue_table
    }
  }

  depends_on = [aws_iam_role_policy.this]
}
