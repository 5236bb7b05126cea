# The topic-creator, and for each pipeline its producer, feature-writer and checker: each
# function with its own role, log group and failure destination, arm64 on provided.al2023, X-Ray
# tracing on, in the private subnets (MSK and the AWS APIs through the VPC endpoints). A
# pipeline's functions are named <name>-<pipeline>-<crate> and told their spec with PIPELINE
# (every spec of config/pipelines/ is built into them). The producers and the checkers run on
# EventBridge schedules; each feature-writer is triggered by an MSK event source mapping on its
# pipeline's aggregates topic; the topic-creator is invoked by Terraform (the topics module).

locals {
  topic_arn = "${format(var.kafka_arn_pattern, "topic")}/"
  group_arn = "${format(var.kafka_arn_pattern, "group")}/"

  feature_writer_groups = { for p, _ in var.pipelines : p => "${var.name}-${p}-feature-writer" }

  topic_creator = {
    topic-creator = {
      crate       = "topic-creator"
      pipeline    = null
      schedule    = null
      memory      = 128
      timeout     = 120
      concurrency = 1
      environment = {
        CLUSTER_ARN = var.cluster_arn
      }
      statements = concat([
        {
          Sid      = "FindTheBrokers"
          Effect   = "Allow"
          Action   = ["kafka:GetBootstrapBrokers"]
          Resource = [var.cluster_arn]
        },
        {
          Sid      = "Connect"
          Effect   = "Allow"
          Action   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
          Resource = [var.cluster_arn]
        },
        {
          Sid    = "ManageTheClustersTopics"
          Effect = "Allow"
          Action = [
            "kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:AlterTopic",
            "kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:AlterTopicDynamicConfiguration",
          ]
          Resource = ["${local.topic_arn}*"]
        },
        ], length(var.topics_to_delete) == 0 ? [] : [
        {
          # Only with topics_to_delete, and only those topics.
          Sid      = "DeleteTheNamedTopics"
          Effect   = "Allow"
          Action   = ["kafka-cluster:DeleteTopic"]
          Resource = [for t in var.topics_to_delete : "${local.topic_arn}${t}"]
        },
      ])
    }
  }

  producers = {
    for p, c in var.pipelines : "${p}-producer" => {
      crate       = "producer"
      pipeline    = p
      schedule    = "rate(1 minute)"
      memory      = 256
      timeout     = 60
      concurrency = 1
      environment = merge(
        {
          PIPELINE              = p
          CLUSTER_ARN           = var.cluster_arn
          TOPIC                 = c.input_topic
          EVENTS_PER_INVOCATION = tostring(c.producer.events_per_invocation)
          MALFORMED_SHARE       = tostring(c.producer.malformed_share)
        },
        c.keys == null ? {} : { KEYS = tostring(c.keys) },
        c.glue_schema == null ? {} : { GLUE_REGISTRY_NAME = c.glue_schema.registry_name },
      )
      # Avro input through Glue: at cold start the producer finds its schema's version by its
      # definition, or registers it (both on the registry and the schema only), then reads the
      # version's status (GetSchemaVersion by version id, which Glue authorises only on "*":
      # see the processor module).
      statements = concat(c.glue_schema == null ? [] : [
        {
          Sid      = "RegisterTheSchema"
          Effect   = "Allow"
          Action   = ["glue:GetSchemaByDefinition", "glue:RegisterSchemaVersion"]
          Resource = [c.glue_schema.registry_arn, c.glue_schema.schema_arn]
        },
        {
          Sid      = "ReadSchemaVersions"
          Effect   = "Allow"
          Action   = ["glue:GetSchemaVersion"]
          Resource = ["*"]
        },
        ], [
        {
          Sid      = "FindTheBrokers"
          Effect   = "Allow"
          Action   = ["kafka:GetBootstrapBrokers"]
          Resource = [var.cluster_arn]
        },
        {
          Sid      = "ConnectAndProduceIdempotently"
          Effect   = "Allow"
          Action   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
          Resource = [var.cluster_arn]
        },
        {
          Sid      = "WriteTheInput"
          Effect   = "Allow"
          Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
          Resource = ["${local.topic_arn}${c.input_topic}"]
        },
      ])
    } if c.producer.enabled
  }

  feature_writers = {
    for p, c in var.pipelines : "${p}-feature-writer" => {
      crate       = "feature-writer"
      pipeline    = p
      schedule    = null
      memory      = 256
      timeout     = 60
      concurrency = c.feature_writer.reserved_concurrency
      environment = {
        PIPELINE           = p
        FEATURE_GROUP_NAME = c.feature_group_name
        FAILURE_QUEUE_URL  = aws_sqs_queue.feature_writer_failures[p].url
        WRITE_CONCURRENCY  = tostring(c.feature_writer.concurrency)
      }
      statements = [
        {
          Sid      = "EventSourceMappingReadsTheCluster"
          Effect   = "Allow"
          Action   = ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"]
          Resource = [var.cluster_arn]
        },
        {
          Sid      = "ReadAggregates"
          Effect   = "Allow"
          Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
          Resource = ["${local.topic_arn}${c.output_topic}"]
        },
        {
          Sid      = "CommitAsItsGroup"
          Effect   = "Allow"
          Action   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
          Resource = ["${local.group_arn}${local.feature_writer_groups[p]}"]
        },
        {
          Sid      = "EventSourceMappingFindsTheVpc"
          Effect   = "Allow"
          Action   = ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
          Resource = ["*"]
        },
        {
          Sid      = "WriteFeatures"
          Effect   = "Allow"
          Action   = ["sagemaker:PutRecord"]
          Resource = [c.feature_group_arn]
        },
        {
          Sid      = "SetAsideWhatCannotBeDecoded"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
          Resource = [aws_sqs_queue.feature_writer_failures[p].arn]
        },
      ]
    }
  }

  checkers = {
    for p, c in var.pipelines : "${p}-checker" => {
      crate       = "checker"
      pipeline    = p
      schedule    = "rate(5 minutes)"
      memory      = 128
      timeout     = 60
      concurrency = 1
      environment = merge(
        {
          PIPELINE                    = p
          ENVIRONMENT                 = var.environment
          FEATURE_GROUP_NAME          = c.feature_group_name
          FRESHNESS_THRESHOLD_SECONDS = tostring(c.checker.freshness_seconds)
          METRICS_NAMESPACE           = var.metrics_namespace
        },
        c.keys == null ? {} : { KEYS = tostring(c.keys) },
        length(c.checker.watch_keys) == 0 ? {} : { WATCH_KEYS = join(",", c.checker.watch_keys) },
      )
      statements = [
        {
          Sid      = "ReadFeatures"
          Effect   = "Allow"
          Action   = ["sagemaker:BatchGetRecord", "sagemaker:GetRecord"]
          Resource = [c.feature_group_arn]
        },
        {
          Sid       = "PublishItsMetrics"
          Effect    = "Allow"
          Action    = ["cloudwatch:PutMetricData"]
          Resource  = ["*"]
          Condition = { StringEquals = { "cloudwatch:namespace" = var.metrics_namespace } }
        },
      ]
    }
  }

  functions = merge(local.topic_creator, local.producers, local.feature_writers, local.checkers)

  policies = {
    for name, f in local.functions : name => jsonencode({
      Version = "2012-10-17"
      Statement = concat(f.statements, [
        {
          Sid      = "WriteItsLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${aws_cloudwatch_log_group.this[name].arn}:*"]
        },
        {
          Sid      = "FailedAsyncInvocationsToTheQueue"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.failures.arn]
        },
        {
          Sid      = "DecryptItsEnvironmentAndQueues"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = [var.kms_key_arn]
        },
        # Its network interfaces in the VPC, scoped as far as EC2 allows (Lambda: "Giving Lambda
        # functions access to resources in an Amazon VPC", the execution role's permissions).
        # AWSLambdaVPCAccessExecutionRole would grant the same on "*", logs:* writes included.
        {
          Sid      = "DescribeNetworkInterfaces"
          Effect   = "Allow"
          Action   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
          Resource = ["*"] # EC2's Describe actions take no resource
        },
        {
          Sid    = "CreateItsInterfacesInItsSubnets"
          Effect = "Allow"
          Action = ["ec2:CreateNetworkInterface"]
          Resource = concat(
            [for id in var.subnet_ids : "arn:aws:ec2:${var.region}:${var.account_id}:subnet/${id}"],
            [
              "arn:aws:ec2:${var.region}:${var.account_id}:security-group/${var.security_group_id}",
              "arn:aws:ec2:${var.region}:${var.account_id}:network-interface/*",
            ],
          )
        },
        {
          Sid      = "ManageItsInterfaces"
          Effect   = "Allow"
          Action   = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
          Resource = ["arn:aws:ec2:${var.region}:${var.account_id}:*/*"]
        },
      ])
    })
  }
}

# The triggers and schedules start once the topic-creator has answered: before, the producer
# would write to a topic that does not exist (auto-creation is off on MSK Serverless) and the
# mapping would fail on its topic.
resource "terraform_data" "topics_ready" {
  input = var.topics_ready
}

# Failed asynchronous invocations (the schedules) and batches the feature-writer's event source
# mapping gives up on, with their context, for replay.
resource "aws_sqs_queue" "failures" {
  name                      = "${var.name}-lambda-failures"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
}

# Records of a pipeline's aggregates topic its feature-writer cannot decode, with their
# coordinates.
resource "aws_sqs_queue" "feature_writer_failures" {
  for_each                  = var.pipelines
  name                      = "${var.name}-${each.key}-feature-writer-failures"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment in its tfvars (a year in prod; dev keeps less to save cost).
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "this" {
  for_each = local.functions
  name     = "${var.name}-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "this" {
  for_each = local.functions
  name     = each.key
  role     = aws_iam_role.this[each.key].id
  policy   = local.policies[each.key]
}

# X-Ray segments: AWS's managed policy for exactly that (xray:Put* on "*", nothing else).
resource "aws_iam_role_policy_attachment" "xray" {
  for_each   = local.functions
  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:The zips are built by ./scripts/build-lambdas in CI and deployed by this module; code signing needs a signing profile outside this project.
  for_each         = local.functions
  function_name    = "${var.name}-${each.key}"
  role             = aws_iam_role.this[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["arm64"]
  filename         = "${var.package_dir}/${each.value.crate}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.package_dir}/${each.value.crate}/bootstrap.zip")
  memory_size      = each.value.memory
  timeout          = each.value.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = each.value.concurrency

  environment {
    variables = merge(each.value.environment, { RUST_LOG = "info" })
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [var.security_group_id]
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.failures.arn
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = { for k, f in local.functions : k => f.schedule if f.schedule != null }
  name                = "${var.name}-${each.key}"
  description         = "Runs the ${each.key} Lambda ${replace(each.value, "rate(", "every ")}"
  schedule_expression = each.value
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = aws_cloudwatch_event_rule.schedule
  rule     = each.value.name
  arn      = aws_lambda_function.this[each.key].arn

  depends_on = [terraform_data.topics_ready]
}

resource "aws_lambda_permission" "schedule" {
  for_each      = aws_cloudwatch_event_rule.schedule
  statement_id  = "EventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

resource "aws_lambda_event_source_mapping" "feature_writer" {
  for_each                           = var.pipelines
  function_name                      = aws_lambda_function.this["${each.key}-feature-writer"].arn
  event_source_arn                   = var.cluster_arn
  topics                             = [each.value.output_topic]
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = each.value.feature_writer.batch_size
  maximum_batching_window_in_seconds = each.value.feature_writer.batching_seconds

  amazon_managed_kafka_event_source_config {
    consumer_group_id = local.feature_writer_groups[each.key]
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }

  depends_on = [terraform_data.topics_ready]
}
