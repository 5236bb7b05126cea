# What must hold in every environment. scripts/terraform-checks runs this file once per tfvars:
#   terraform test -var-file=<env>.tfvars
# The provider is mocked: nothing is created, every resource is planned and "applied" offline,
# and the assertions read what the resources hold.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "stack" {
  assert {
    condition = alltrue(flatten([
      for name, policy in output.iam_policies : [
        for s in jsondecode(policy).Statement :
        !(contains(flatten([s.Action]), "*") && contains(flatten([s.Resource]), "*"))
      ]
    ]))
    error_message = "An IAM policy allows every action on every resource."
  }

  assert {
    condition = alltrue(flatten([
      for name, policy in output.iam_policies : [
        for s in jsondecode(policy).Statement : [
          for a in flatten([s.Action]) : !endswith(a, ":*")
        ]
      ]
    ]))
    error_message = "An IAM policy grants a whole service (service:*); name the actions."
  }

  assert {
    # The only statements on "*" are actions AWS gives no resource to scope to, or PutMetricData
    # held to the pipeline's namespace by a condition.
    condition = alltrue(flatten([
      for name, policy in output.iam_policies : [
        for s in jsondecode(policy).Statement :
        !contains(flatten([s.Resource]), "*") || alltrue([
          for a in flatten([s.Action]) :
          contains(["ecr:GetAuthorizationToken", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"], a) ||
          (a == "cloudwatch:PutMetricData" && can(s.Condition.StringEquals["cloudwatch:namespace"]))
        ])
      ]
    ]))
    error_message = "An IAM statement on Resource \"*\" has an action that can be scoped."
  }

  assert {
    condition     = output.checks.bucket_encryption.lake == "aws:kms" && output.checks.bucket_encryption.access_logs == "AES256"
    error_message = "The lake must be SSE-KMS (the access-log bucket SSE-S3, all S3 logging accepts)."
  }

  assert {
    condition     = alltrue(values(output.checks.public_access_blocked)) && length(output.checks.public_access_blocked) == 2
    error_message = "Every bucket must block all public access."
  }

  assert {
    condition = alltrue([
      for name, policy in output.checks.bucket_policies :
      anytrue([for s in jsondecode(policy).Statement : s.Effect == "Deny" && try(s.Condition.Bool["aws:SecureTransport"], "") == "false"])
    ])
    error_message = "Every bucket must refuse requests without TLS."
  }

  assert {
    condition     = output.checks.glue_columns == jsondecode(file("schema.json")).lake.columns
    error_message = "The Glue table's columns must be the generated schema's (infra/schema.json)."
  }

  assert {
    condition     = output.checks.glue_partition_keys == jsondecode(file("schema.json")).lake.partition_keys
    error_message = "The Glue table's partition keys must be the generated schema's."
  }

  assert {
    condition     = output.checks.features == jsondecode(file("schema.json")).feature_group.features
    error_message = "The Feature Group's definitions must be the generated schema's."
  }

  assert {
    condition = (
      toset(keys(output.checks.lambda_architectures)) == toset(["checker", "feature-writer", "producer", "topic-creator"]) &&
      alltrue([for a in values(output.checks.lambda_architectures) : length(a) == 1 && a[0] == "arm64"]) &&
      alltrue([for r in values(output.checks.lambda_runtimes) : r == "provided.al2023"])
    )
    error_message = "The four Lambdas must be arm64 on provided.al2023."
  }

  assert {
    condition     = output.checks.lambda_schedules == { checker = "rate(5 minutes)", producer = "rate(1 minute)" }
    error_message = "The producer runs every minute and the checker every 5 minutes."
  }

  assert {
    condition     = output.checks.event_source_mapping.topics == toset(["aggregates"])
    error_message = "The feature-writer is triggered by the aggregates topic."
  }

  assert {
    condition = (
      output.checks.processor_task.cpu_architecture == "ARM64" &&
      output.checks.processor_task.container.readonlyRootFilesystem == true &&
      output.checks.processor_task.container.user == "65532:65532"
    )
    error_message = "The processor runs on arm64, as a non-root user, with a read-only root filesystem."
  }

  assert {
    condition = (
      contains([for e in output.checks.processor_task.container.environment : e.value if e.name == "KAFKA_AUTH"], "msk-iam") &&
      length([for e in output.checks.processor_task.container.environment : e if e.name == "FIREHOSE_STREAM"]) == 0 &&
      alltrue([
        for s in jsondecode(output.iam_policies["processor.processor_task"]).Statement :
        alltrue([for a in flatten([s.Action]) : !startswith(a, "firehose:")])
      ])
    )
    error_message = "The processor authenticates with MSK IAM and sends nothing to Firehose itself: Firehose reads the aggregates topic (nothing lake-bound may live only in the processor's memory)."
  }

  assert {
    # Firehose: "Configure source settings for Amazon MSK" (private bootstrap brokers, IAM);
    # API MSKSourceConfiguration (ReadFromTimestamp = epoch for the earliest position);
    # StartDeliveryStreamEncryption (server-side encryption only for a DirectPut source).
    condition = (
      output.checks.lake_source.msk == [{
        cluster      = output.checks.msk_cluster_arn
        topic        = "aggregates"
        read_from    = "1970-01-01T00:00:00Z"
        connectivity = "PRIVATE"
      }] &&
      output.checks.lake_source.encryption == false &&
      output.checks.lake_source.dynamic_partitioning &&
      output.checks.lake_source.parquet &&
      startswith(output.checks.lake_source.error_prefix, "errors/")
    )
    error_message = "Firehose must read the aggregates topic from its start over a private IAM connection, with no server-side encryption setting (refused for an MSK source), keeping the Parquet conversion, dynamic partitioning and error prefix."
  }

  assert {
    # Firehose: "Grant Firehose access to your private Amazon MSK cluster".
    condition = anytrue([
      for s in jsondecode(output.checks.cluster_policy).Statement :
      s.Effect == "Allow" && s.Principal.Service == "firehose.amazonaws.com" &&
      contains(flatten([s.Action]), "kafka:CreateVpcConnection") && s.Resource == output.checks.msk_cluster_arn
    ])
    error_message = "The cluster policy must let Firehose create its private connection (kafka:CreateVpcConnection) to this cluster."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.iam_policies["delivery.firehose"]).Statement :
      !contains(flatten([s.Action]), "kafka-cluster:ReadData") || alltrue([for r in flatten([s.Resource]) : endswith(r, "/aggregates")])
      ]) && anytrue([
      for s in jsondecode(output.iam_policies["delivery.firehose"]).Statement : contains(flatten([s.Action]), "kafka-cluster:ReadData")
    ])
    error_message = "Firehose's role reads the aggregates topic, and no other."
  }

  assert {
    # Lambda: "Creating a Lambda event source mapping for an Amazon MSK event source" (the
    # pollers' ENIs carry the cluster's security groups); "Configuring your Amazon MSK cluster
    # and Amazon VPC network for Lambda" (the rules they need, and the STS and Lambda endpoints).
    condition = (
      contains(output.checks.cluster_sg_rules.ingress, { port = 9098, peer = output.checks.cluster_sg }) &&
      contains(output.checks.cluster_sg_rules.egress, { port = 9098, peer = output.checks.cluster_sg }) &&
      contains(output.checks.cluster_sg_rules.egress, { port = 443, peer = output.checks.endpoints_sg }) &&
      output.checks.cluster_sg_rules.endpoints_ingress == { port = 443, peer = output.checks.cluster_sg } &&
      contains(output.checks.interface_endpoints, "sts") && contains(output.checks.interface_endpoints, "lambda")
    )
    error_message = "The cluster's security group (which the feature-writer's pollers carry) must accept and reach the brokers' port from itself and reach the STS and Lambda endpoints on 443."
  }

  assert {
    condition = (
      output.checks.topic_triggers["cluster"] == output.checks.msk_cluster_arn &&
      output.checks.event_source_mapping.after_topics == output.checks.topics_result
    )
    error_message = "The topic-creator runs again for a replaced cluster, and the feature-writer's trigger waits for its answer."
  }

  assert {
    condition = (
      !contains(output.checks.lambda_managed, "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole") &&
      alltrue(flatten([
        for name, policy in output.iam_policies : [
          for s in jsondecode(policy).Statement :
          alltrue([for a in flatten([s.Action]) : !startswith(a, "logs:")]) || alltrue([for r in flatten([s.Resource]) : startswith(r, "arn:aws:logs:")])
        ]
      ]))
    )
    error_message = "No role may write logs outside its own log group (AWSLambdaVPCAccessExecutionRole grants logs writes on \"*\": the ENI permissions are scoped inline instead)."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.iam_policies["lambdas.topic-creator"]).Statement :
      !contains(flatten([s.Action]), "kafka-cluster:DeleteTopic")
    ])
    error_message = "The topic-creator may not delete topics unless topics_to_delete names them."
  }

  assert {
    # Athena: "Partition projection with Amazon Athena", "Supported types for partition projection".
    condition = (
      output.checks.table_parameters["projection.enabled"] == "true" &&
      alltrue([
        for k in jsondecode(file("schema.json")).lake.partition_keys :
        output.checks.table_parameters["projection.${k.name}.type"] == "integer" &&
        can(regex("^[0-9]+,[0-9]+$", output.checks.table_parameters["projection.${k.name}.range"])) &&
        strcontains(output.checks.table_parameters["storage.location.template"], "/${k.name}=$${${k.name}}/")
      ])
    )
    error_message = "The Glue table projects its year/month/day partitions (no MSCK REPAIR for each new day), at the path Firehose writes."
  }

  assert {
    condition     = strcontains(output.checks.dedup_query, "PARTITION BY aggregate_id") && strcontains(output.checks.dedup_query, "WHERE copy = 1")
    error_message = "The saved Athena query creates a view with one row per aggregate_id."
  }

  assert {
    condition = (
      output.checks.processor_lag_policy.metric.metric_name == "ConsumerLagTotal" &&
      output.checks.processor_lag_policy.metric.namespace == "StreamingPipeline/${var.environment}" &&
      output.checks.processor_lag_policy.metric.statistic == "Average" &&
      output.checks.processor_lag_policy.scale_in &&
      output.checks.processor_lag_policy.target == var.processor.target_lag
    )
    error_message = "The lag policy tracks the processor's own records-not-yet-handled per task (ConsumerLagTotal, averaged), which falls to about zero under steady input so the service scales in; MSK's SumOffsetLag trails by the open window and never would."
  }

  assert {
    condition     = jsonencode(output.topics.topics) == jsonencode([for t in var.topics : { name = t.name, partitions = t.partitions, configs = t.configs }])
    error_message = "The topic-creator is asked for exactly the topics of the tfvars."
  }

  assert {
    condition     = toset([for t in var.topics : t.name]) == toset(["ticks", "aggregates", "ticks.dlq", "ticks.replay"])
    error_message = "The tfvars must declare the spec's three topics and the replay (backfill) topic."
  }

  assert {
    condition = (
      one([for t in var.topics : t.partitions if t.name == "ticks.replay"]) ==
      one([for t in var.topics : t.partitions if t.name == "ticks"])
    )
    error_message = "The replay topic has the input's partitions, so a replay keeps each ticker's partition and order."
  }

  assert {
    # The processor writes only its outputs and the replay topic; it never writes the input.
    condition = alltrue([
      for s in jsondecode(output.iam_policies["processor.processor_task"]).Statement :
      !contains(flatten([s.Action]), "kafka-cluster:WriteData") || alltrue([
        for r in flatten([s.Resource]) : can(regex("/(aggregates|ticks\\.dlq|ticks\\.replay)$", r))
      ])
    ])
    error_message = "The processor's task role may write only aggregates, ticks.dlq and ticks.replay."
  }
}

run "alarms" {
  assert {
    condition     = length(output.alarms) >= 25
    error_message = "Expected the pipeline's alarms: 12 on metrics, 3 a Lambda, dead letters, and the composite."
  }

  assert {
    condition = alltrue([
      for name, a in output.alarms :
      toset(a.actions) == toset([output.alarm_topic_arn]) && toset(a.ok_actions) == toset([output.alarm_topic_arn])
    ])
    error_message = "Every alarm notifies the alarm topic when it fires and when it recovers."
  }

  assert {
    condition = alltrue([
      for name, a in output.alarms :
      can(regex("Runbook: ${var.runbook_base_url}/[a-z0-9-]+\\.md$", a.description))
    ])
    error_message = "Every alarm's description ends with a link to its runbook."
  }

  assert {
    condition = alltrue([
      for name, a in output.alarms : contains(["breaching", "notBreaching", "composite"], a.missing)
    ])
    error_message = "Every alarm says how missing data counts (breaching or notBreaching), never the default."
  }

  assert {
    condition = alltrue([
      for key in ["processor-not-running", "processor-stalled", "firehose-delivery-failing", "lake-stale", "features-stale"] :
      strcontains(output.composite_alarm_rule, "ALARM(\"${var.project}-${var.environment}-${key}\")")
    ])
    error_message = "pipeline-not-delivering fires on the processor down or stalled, the lake failing or falling behind, or stale features."
  }

  assert {
    condition = (
      strcontains(output.alarms["${var.project}-${var.environment}-processor-stalled"].expression, "stranded") &&
      contains(output.alarms["${var.project}-${var.environment}-processor-stalled"].metrics, "StreamingPipeline/${var.environment} StrandedBacklog") &&
      contains(output.alarms["${var.project}-${var.environment}-processor-stalled"].metrics, "StreamingPipeline/${var.environment} BatchesCommitted")
    )
    error_message = "processor-stalled fires on no commits, and on an instance stranded without partitions while its group's input waits."
  }

  assert {
    condition = alltrue([
      for key, queue in { lambda-failures-queued = "lambda-failures", feature-records-set-aside = "feature-writer-failures" } :
      contains(output.alarms["${var.project}-${var.environment}-${key}"].metrics, "AWS/SQS ApproximateNumberOfMessagesVisible") &&
      output.alarms["${var.project}-${var.environment}-${key}"].threshold == 0
    ])
    error_message = "Each failure queue has an alarm that fires on its first message."
  }

  assert {
    condition = alltrue([
      for key in ["producer", "topic-creator", "feature-writer", "checker"] :
      output.alarms["${var.project}-${var.environment}-lambda-near-timeout-${key}"].threshold < output.checks.lambda_timeouts[key] * 1000
    ])
    error_message = "A Lambda's near-timeout alarm fires before its timeout."
  }

  assert {
    condition     = output.alarms["${var.project}-${var.environment}-processor-not-running"].threshold == var.processor.min_count
    error_message = "processor-not-running fires below the autoscaling minimum."
  }
}

run "deletion_is_granted_for_the_named_topics_only" {
  variables {
    topics_to_delete = ["ticks.old"]
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.iam_policies["lambdas.topic-creator"]).Statement :
      contains(flatten([s.Action]), "kafka-cluster:DeleteTopic") ? flatten([s.Resource]) == ["${format(replace(output.checks.msk_cluster_arn, ":cluster/", ":%s/"), "topic")}/ticks.old"] : true
      ]) && anytrue([
      for s in jsondecode(output.iam_policies["lambdas.topic-creator"]).Statement : contains(flatten([s.Action]), "kafka-cluster:DeleteTopic")
    ])
    error_message = "With topics_to_delete, the topic-creator may delete those topics and no other."
  }

  assert {
    condition     = output.topics.delete == ["ticks.old"]
    error_message = "The topic-creator is asked to delete the named topics."
  }
}
