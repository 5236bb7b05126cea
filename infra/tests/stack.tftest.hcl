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
          contains(["ecr:GetAuthorizationToken", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"], a) ||
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
      contains([for e in output.checks.processor_task.container.environment : e.value if e.name == "FIREHOSE_STREAM"], "${var.project}-${var.environment}-aggregates")
    )
    error_message = "The processor authenticates with MSK IAM and delivers to the environment's Firehose stream."
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
      for key in ["processor-not-running", "processor-stalled", "firehose-delivery-failing", "features-stale"] :
      strcontains(output.composite_alarm_rule, "ALARM(\"${var.project}-${var.environment}-${key}\")")
    ])
    error_message = "pipeline-not-delivering fires on the processor down or stalled, the lake failing, or stale features."
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
