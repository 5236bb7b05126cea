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
          # Glue authorises a schema version lookup by id only on "*" (AWS Glue Developer Guide,
          # "Getting started with schema registry", IAM examples for deserializers).
          a == "glue:GetSchemaVersion" ||
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
    # Every generated spec is deployed by default (pipeline_defaults), and each gets its own set.
    condition = toset(keys(output.pipelines)) == toset([
      for f in fileset(".", "pipelines/*.json") : trimsuffix(trimprefix(f, "pipelines/"), ".json")
      if lookup(var.pipelines, trimsuffix(trimprefix(f, "pipelines/"), ".json"), var.pipeline_defaults).enabled
    ]) && length(output.pipelines) > 0
    error_message = "Each enabled spec of infra/pipelines/ must be deployed."
  }

  assert {
    condition = alltrue([
      for p, d in output.pipelines :
      d.topics == jsondecode(file("pipelines/${p}.json")).topics &&
      d.consumer_group == "${p}-processor" &&
      toset(keys(d.functions)) == toset(concat(["feature-writer", "checker"], lookup(var.pipelines, p, var.pipeline_defaults).producer.enabled ? ["producer"] : [])) &&
      d.firehose_stream == "${var.project}-${var.environment}-${p}" &&
      d.feature_group == "${var.project}-${var.environment}-${p}" &&
      d.glue_table == replace(p, "-", "_") &&
      d.dashboard == "${var.project}-${var.environment}-${p}"
    ])
    error_message = "Each pipeline gets its own topics (its spec's), processor group, functions, Firehose stream, Glue table, Feature Group and dashboard, named after it."
  }

  assert {
    condition = alltrue([
      for p, _ in output.pipelines :
      output.checks.glue_columns[p] == jsondecode(file("pipelines/${p}.json")).lake.columns &&
      output.checks.glue_partition_keys[p] == jsondecode(file("pipelines/${p}.json")).lake.partition_keys &&
      output.checks.features[p] == jsondecode(file("pipelines/${p}.json")).feature_group.features
    ])
    error_message = "Each Glue table's columns and partition keys, and each Feature Group's definitions, must be its generated spec's (infra/pipelines/<name>.json)."
  }

  assert {
    condition = (
      alltrue([for a in values(output.checks.lambda_architectures) : length(a) == 1 && a[0] == "arm64"]) &&
      alltrue([for r in values(output.checks.lambda_runtimes) : r == "provided.al2023"]) &&
      contains(keys(output.checks.lambda_architectures), "topic-creator") &&
      alltrue([for k, e in output.checks.lambda_environments : k == "topic-creator" || contains(keys(output.pipelines), lookup(e, "PIPELINE", "")) && startswith(k, "${lookup(e, "PIPELINE", "")}-")])
    )
    error_message = "Every Lambda must be arm64 on provided.al2023, and each pipeline's function must be told its pipeline (PIPELINE)."
  }

  assert {
    condition = alltrue([
      for k, e in output.checks.lambda_environments : (
        endswith(k, "-producer") ? lookup(e, "TOPIC", "") == jsondecode(file("pipelines/${trimsuffix(k, "-producer")}.json")).topics.input : true
      )
    ])
    error_message = "Each producer writes its spec's input topic."
  }

  assert {
    condition = alltrue([
      for k, rate in output.checks.lambda_schedules :
      endswith(k, "-producer") ? rate == "rate(1 minute)" : endswith(k, "-checker") && rate == "rate(5 minutes)"
    ]) && length([for k, _ in output.checks.lambda_schedules : k if endswith(k, "-checker")]) == length(output.pipelines)
    error_message = "Each producer runs every minute and each checker every 5 minutes."
  }

  assert {
    condition = alltrue([
      for p, m in output.checks.event_source_mappings :
      m.topics == toset([jsondecode(file("pipelines/${p}.json")).topics.output]) &&
      m.group == "${var.project}-${var.environment}-${p}-feature-writer"
    ]) && toset(keys(output.checks.event_source_mappings)) == toset(keys(output.pipelines))
    error_message = "Each feature-writer is triggered by its pipeline's aggregates topic, in its own group."
  }

  assert {
    condition = alltrue([
      for p, t in output.checks.processor_task :
      t.cpu_architecture == "ARM64" && t.container.readonlyRootFilesystem == true && t.container.user == "65532:65532" &&
      contains([for e in t.container.environment : e.value if e.name == "PIPELINE_SPEC"], "/etc/pipelines/${p}.toml") &&
      contains([for e in t.container.environment : e.value if e.name == "PROCESSOR_GROUP"], "${p}-processor")
    ])
    error_message = "Each processor runs on arm64, as a non-root user, with a read-only root filesystem, its own spec from the image (/etc/pipelines/<name>.toml) and its own group."
  }

  assert {
    condition = alltrue([
      for p, t in output.checks.processor_task :
      contains([for e in t.container.environment : e.value if e.name == "KAFKA_AUTH"], "msk-iam") &&
      length([for e in t.container.environment : e if e.name == "FIREHOSE_STREAM"]) == 0 &&
      alltrue([
        for s in jsondecode(output.iam_policies["processor.${p}.processor_task"]).Statement :
        alltrue([for a in flatten([s.Action]) : !startswith(a, "firehose:")])
      ])
    ])
    error_message = "The processors authenticate with MSK IAM and send nothing to Firehose themselves: Firehose reads the aggregates topics (nothing lake-bound may live only in a processor's memory)."
  }

  assert {
    # Firehose: "Configure source settings for Amazon MSK" (private bootstrap brokers, IAM);
    # API MSKSourceConfiguration (ReadFromTimestamp = epoch for the earliest position);
    # StartDeliveryStreamEncryption (server-side encryption only for a DirectPut source).
    condition = alltrue([
      for p, source in output.checks.lake_source :
      source.msk == [{
        cluster      = output.checks.msk_cluster_arn
        topic        = jsondecode(file("pipelines/${p}.json")).topics.output
        read_from    = "1970-01-01T00:00:00Z"
        connectivity = "PRIVATE"
      }] &&
      source.encryption == false &&
      source.dynamic_partitioning &&
      source.parquet &&
      startswith(source.prefix, "${replace(p, "-", "_")}/") &&
      startswith(source.error_prefix, "errors/${replace(p, "-", "_")}/")
    ]) && toset(keys(output.checks.lake_source)) == toset(keys(output.pipelines))
    error_message = "Each Firehose stream must read its pipeline's aggregates topic from its start over a private IAM connection, with no server-side encryption setting (refused for an MSK source), keeping the Parquet conversion, dynamic partitioning, and its own folder and error prefix."
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
      for p, _ in output.pipelines : alltrue([
        for s in jsondecode(output.iam_policies["delivery.${p}-firehose"]).Statement :
        !contains(flatten([s.Action]), "kafka-cluster:ReadData") || flatten([s.Resource]) == ["${format(replace(output.checks.msk_cluster_arn, ":cluster/", ":%s/"), "topic")}/${jsondecode(file("pipelines/${p}.json")).topics.output}"]
        ]) && anytrue([
        for s in jsondecode(output.iam_policies["delivery.${p}-firehose"]).Statement : contains(flatten([s.Action]), "kafka-cluster:ReadData")
      ])
    ])
    error_message = "Each Firehose role reads its pipeline's aggregates topic, and no other."
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
    error_message = "The cluster's security group (which the feature-writers' pollers carry) must accept and reach the brokers' port from itself and reach the STS and Lambda endpoints on 443."
  }

  assert {
    condition = (
      output.checks.topic_triggers["cluster"] == output.checks.msk_cluster_arn &&
      alltrue([for m in values(output.checks.event_source_mappings) : m.after_topics == output.checks.topics_result])
    )
    error_message = "The topic-creator runs again for a replaced cluster, and the feature-writers' triggers wait for its answer."
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
    condition = alltrue([
      for p, parameters in output.checks.table_parameters :
      parameters["projection.enabled"] == "true" &&
      startswith(parameters["storage.location.template"], "s3://${output.lake_bucket}/${replace(p, "-", "_")}/") &&
      alltrue([
        for k in jsondecode(file("pipelines/${p}.json")).lake.partition_keys :
        parameters["projection.${k.name}.type"] == "integer" &&
        can(regex("^[0-9]+,[0-9]+$", parameters["projection.${k.name}.range"])) &&
        strcontains(parameters["storage.location.template"], "/${k.name}=$${${k.name}}/")
      ])
    ])
    error_message = "Each Glue table projects its year/month/day partitions (no MSCK REPAIR for each new day), at the path its Firehose stream writes."
  }

  assert {
    condition = alltrue([
      for p, q in output.checks.dedup_queries :
      strcontains(q, "PARTITION BY aggregate_id") && strcontains(q, "WHERE copy = 1") && strcontains(q, "VIEW ${replace(p, "-", "_")}_dedup")
    ])
    error_message = "Each pipeline's saved Athena query creates a view with one row per aggregate_id."
  }

  assert {
    condition = alltrue([
      for p, policy in output.checks.processor_lag_policy :
      policy.metric.metric_name == "ConsumerLagTotal" &&
      policy.metric.namespace == "StreamingPipeline/${var.environment}" &&
      policy.metric.statistic == "Average" &&
      toset([for d in policy.metric.dimensions : "${d.name}=${d.value}"]) == toset(["Pipeline=${p}", "Service=processor"]) &&
      policy.scale_in &&
      policy.target == lookup(var.pipelines, p, var.pipeline_defaults).processor.target_lag
    ])
    error_message = "Each lag policy tracks its processor's own records-not-yet-handled per task (ConsumerLagTotal of its pipeline, averaged), which falls to about zero under steady input so the service scales in; MSK's SumOffsetLag trails by the open window and never would."
  }

  assert {
    condition = toset([for t in output.topics.topics : t.name]) == toset(flatten([
      for p, _ in output.pipelines : values(jsondecode(file("pipelines/${p}.json")).topics)
    ])) && length(output.topics.topics) == 4 * length(output.pipelines)
    error_message = "The topic-creator is asked for each pipeline's input, aggregates, dead-letter and replay topics, and nothing else."
  }

  assert {
    condition = alltrue([
      for p, _ in output.pipelines :
      one([for t in output.topics.topics : t.partitions if t.name == jsondecode(file("pipelines/${p}.json")).topics.replay]) ==
      one([for t in output.topics.topics : t.partitions if t.name == jsondecode(file("pipelines/${p}.json")).topics.input])
    ])
    error_message = "Each replay topic has its input's partitions, so a replay keeps each key's partition and order."
  }

  assert {
    # Each processor writes only its outputs and its replay topic; it never writes its input.
    condition = alltrue([
      for p, _ in output.pipelines : alltrue([
        for s in jsondecode(output.iam_policies["processor.${p}.processor_task"]).Statement :
        !contains(flatten([s.Action]), "kafka-cluster:WriteData") || alltrue([
          for r in flatten([s.Resource]) : contains([
            for kind in ["output", "dead_letter", "replay"] :
            "${format(replace(output.checks.msk_cluster_arn, ":cluster/", ":%s/"), "topic")}/${jsondecode(file("pipelines/${p}.json")).topics[kind]}"
          ], r)
        ])
      ])
    ])
    error_message = "Each processor's task role may write only its own aggregates, dead-letter and replay topics."
  }
}

run "alarms" {
  assert {
    condition     = length(output.alarms) == 1 + 3 + length(output.pipelines) * (12 + 3 + 9)
    error_message = "Expected the shared failure-queue alarm and 3 for the topic-creator, and per pipeline 12 on metrics, stalled, dead letters, the composite, and 3 for each of its 3 Lambdas."
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
    condition = alltrue(flatten([
      for p, rule in output.composite_alarm_rules : [
        for key in ["processor-not-running", "processor-stalled", "firehose-delivery-failing", "lake-stale", "features-stale"] :
        strcontains(rule, "ALARM(\"${var.project}-${var.environment}-${p}-${key}\")")
      ]
    ])) && toset(keys(output.composite_alarm_rules)) == toset(keys(output.pipelines))
    error_message = "Each pipeline's pipeline-not-delivering fires on its own processor down or stalled, its lake table failing or falling behind, or its stale features."
  }

  assert {
    condition = alltrue([
      for p, _ in output.pipelines :
      strcontains(output.alarms["${var.project}-${var.environment}-${p}-processor-stalled"].expression, "stranded") &&
      contains(output.alarms["${var.project}-${var.environment}-${p}-processor-stalled"].metrics, "StreamingPipeline/${var.environment} StrandedBacklog") &&
      contains(output.alarms["${var.project}-${var.environment}-${p}-processor-stalled"].metrics, "StreamingPipeline/${var.environment} BatchesCommitted")
    ])
    error_message = "processor-stalled fires on no commits, and on an instance stranded without partitions while its group's input waits."
  }

  assert {
    condition = alltrue([
      for key in concat(["lambda-failures-queued"], [for p, _ in output.pipelines : "${p}-feature-records-set-aside"]) :
      contains(output.alarms["${var.project}-${var.environment}-${key}"].metrics, "AWS/SQS ApproximateNumberOfMessagesVisible") &&
      output.alarms["${var.project}-${var.environment}-${key}"].threshold == 0
    ])
    error_message = "Each failure queue has an alarm that fires on its first message."
  }

  assert {
    condition = alltrue([
      for key, timeout in output.checks.lambda_timeouts :
      output.alarms["${var.project}-${var.environment}-lambda-near-timeout-${key}"].threshold < timeout * 1000
    ])
    error_message = "A Lambda's near-timeout alarm fires before its timeout."
  }

  assert {
    condition = alltrue([
      for p, _ in output.pipelines :
      output.alarms["${var.project}-${var.environment}-${p}-processor-not-running"].threshold == lookup(var.pipelines, p, var.pipeline_defaults).processor.min_count
    ])
    error_message = "processor-not-running fires below each pipeline's autoscaling minimum."
  }

  assert {
    condition = alltrue([
      for p, _ in output.pipelines :
      output.alarms["${var.project}-${var.environment}-${p}-state-over-capacity"].threshold == 0 &&
      contains(output.alarms["${var.project}-${var.environment}-${p}-state-over-capacity"].metrics, "StreamingPipeline/${var.environment} DeadLetters")
    ])
    error_message = "Each pipeline alarms on its first event refused over its state budget."
  }

  assert {
    condition = alltrue([
      for p, _ in output.pipelines :
      strcontains(output.alarms["${var.project}-${var.environment}-${p}-feature-sanity-failures"].description, jsondecode(file("pipelines/${p}.json")).checks[0])
    ])
    error_message = "Each sanity alarm quotes its spec's checks."
  }
}

run "deletion_is_granted_for_the_named_topics_only" {
  variables {
    topics_to_delete = ["retired.old"]
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.iam_policies["lambdas.topic-creator"]).Statement :
      contains(flatten([s.Action]), "kafka-cluster:DeleteTopic") ? flatten([s.Resource]) == ["${format(replace(output.checks.msk_cluster_arn, ":cluster/", ":%s/"), "topic")}/retired.old"] : true
      ]) && anytrue([
      for s in jsondecode(output.iam_policies["lambdas.topic-creator"]).Statement : contains(flatten([s.Action]), "kafka-cluster:DeleteTopic")
    ])
    error_message = "With topics_to_delete, the topic-creator may delete those topics and no other."
  }

  assert {
    condition     = output.topics.delete == ["retired.old"]
    error_message = "The topic-creator is asked to delete the named topics."
  }
}

run "a_pipeline_can_be_left_out_or_sized_on_its_own" {
  variables {
    pipelines = {
      "orders"          = { enabled = false }
      "sensor-readings" = { partitions = 7, producer = { enabled = false } }
    }
  }

  assert {
    condition     = !contains(keys(output.pipelines), "orders") && length(output.pipelines) == length(fileset(".", "pipelines/*.json")) - 1
    error_message = "A pipeline with enabled = false gets no resources."
  }

  assert {
    condition = alltrue([
      for t in output.topics.topics : t.partitions == 7 if contains(["readings", "readings.aggregates", "readings.replay"], t.name)
    ]) && !contains(keys(output.pipelines["sensor-readings"].functions), "producer")
    error_message = "A pipeline's own settings replace the defaults for it alone: its partitions, its producer left out."
  }

  assert {
    condition     = length([for t in output.topics.topics : t if startswith(t.name, "orders")]) == 0
    error_message = "A pipeline left out gets no topics."
  }
}
