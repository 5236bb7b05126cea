# Where every alarm goes, the alarms themselves, and a dashboard per pipeline. Each pipeline gets
# the same alarms, named <name>-<pipeline>-<alarm>, on its own metrics (the Pipeline dimension of
# the processor's and the checker's); the Lambdas' alarms are per function; the failure queue of
# the Lambdas is shared. Each alarm's description says what it means and links its runbook
# (docs/operations/runbooks/<runbook>.md); missing data is treated deliberately, alarm by alarm;
# every alarm notifies the topic when it fires and when it recovers.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# The processor stops on a batch it cannot deliver (its transaction is aborted, or at-least-once
# output is not flushed) and ECS starts it again: each such stop logs this line.
# The line names its pipeline, which becomes the metric's Pipeline dimension.
resource "aws_cloudwatch_log_metric_filter" "batches_aborted" {
  for_each       = var.pipelines
  name           = "${var.name}-${each.key}-processor-batches-aborted"
  log_group_name = each.value.processor.log_group
  pattern        = "{ $.message = \"batch not delivered; stopping\" }"

  metric_transformation {
    name       = "BatchesAborted"
    namespace  = var.metrics_namespace
    value      = "1"
    unit       = "Count"
    dimensions = { Pipeline = "$.pipeline" }
  }
}

locals {
  # Firehose delivers a partition's buffer within 1.5 times its interval (multi-stage buffering,
  # Firehose: "Buffer data for dynamic partitioning"); 15 minutes more before paging.
  lake_stale_seconds = ceil(var.lake_buffer_seconds * 1.5) + 900

  runbook  = "${trimsuffix(var.runbook_base_url, "/")}/"
  five_min = 300

  # The Lambdas' shared failure queue: one alarm.
  shared_alarms = {
    lambda-failures-queued = {
      runbook     = "lambda-failures-queued"
      description = "Messages wait in ${var.lambda_failure_queue}: a scheduled invocation failed every retry, or a feature-writer's trigger gave up on a batch. Each holds what to replay."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.lambda_failure_queue }
      statistic   = "Maximum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching" # SQS stops reporting a queue idle for hours: empty
    }
  }

  # One alarm a metric and pipeline: what it watches and what it means.
  metric_alarms = merge(local.shared_alarms, merge([for p, c in var.pipelines : { for k, a in {
    processor-lag-high = {
      runbook     = "processor-lag-high"
      description = "The ${p} processor's consumer group is more than ${var.thresholds.processor_lag_records} records behind on ${c.processor.input_topic} for 15 minutes: aggregates are late."
      namespace   = "AWS/Kafka"
      metric      = "SumOffsetLag"
      dimensions  = { "Cluster Name" = var.msk_cluster_name, "Consumer Group" = c.processor.group, Topic = c.processor.input_topic }
      statistic   = "Maximum"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.processor_lag_records
      missing     = "notBreaching" # MSK reports no lag for a group with nothing to read
    }
    processor-not-running = {
      runbook     = "processor-not-running"
      description = "Fewer than ${c.processor.min_tasks} ${p} processor tasks are running: partitions are unowned or a deployment is failing."
      namespace   = "ECS/ContainerInsights"
      metric      = "RunningTaskCount"
      dimensions  = { ClusterName = c.processor.cluster, ServiceName = c.processor.service }
      statistic   = "Minimum"
      periods     = 2
      comparison  = "LessThanThreshold"
      threshold   = c.processor.min_tasks
      missing     = "breaching" # no report means no tasks
    }
    processor-batches-aborted = {
      runbook     = "processor-batches-aborted"
      description = "The ${p} processor stopped on a batch it could not deliver (transaction aborted) at least twice in 15 minutes."
      namespace   = var.metrics_namespace
      metric      = "BatchesAborted"
      dimensions  = { Pipeline = p }
      statistic   = "Sum"
      periods     = 3
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = 2
      missing     = "notBreaching" # the filter reports 0 only when other lines arrive
    }
    late-events-spike = {
      runbook     = "late-events-spike"
      description = "More than ${var.thresholds.late_events_per_5min} events of ${p} in 5 minutes arrived after their window closed (dead-lettered as late)."
      namespace   = var.metrics_namespace
      metric      = "LateEvents"
      dimensions  = { Pipeline = p, Service = "processor" }
      statistic   = "Sum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.late_events_per_5min
      missing     = "notBreaching" # no input, no late events
    }
    state-over-capacity = {
      runbook     = "state-over-capacity"
      description = "Events of ${p} were dead-lettered as over_capacity: a window on a partition held its spec's window.max_keys keys and new keys kept coming (a burst of distinct keys, or a budget too small for the real key count)."
      namespace   = var.metrics_namespace
      metric      = "DeadLetters"
      dimensions  = { Pipeline = p, Service = "processor", Reason = "over_capacity" }
      statistic   = "Sum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching" # the processor reports every reason each minute; silence is no input
    }
    firehose-delivery-failing = {
      runbook     = "firehose-delivery-failing"
      description = "Firehose is failing to write the ${p} lake table (DeliveryToS3.Success below 1) for 15 minutes: S3, KMS, Glue or the Parquet conversion."
      namespace   = "AWS/Firehose"
      metric      = "DeliveryToS3.Success"
      dimensions  = { DeliveryStreamName = c.firehose_stream }
      statistic   = "Average"
      periods     = 3
      comparison  = "LessThanThreshold"
      threshold   = 1
      missing     = "notBreaching" # no deliveries attempted
    }
    lake-stale = {
      runbook     = "lake-stale"
      description = "The oldest ${p} aggregate Firehose holds has waited more than ${local.lake_stale_seconds} s (its ${var.lake_buffer_seconds} s buffer, half as much again for its multi-stage buffering, and 15 minutes) for 15 minutes: the lake is falling behind the aggregates topic."
      namespace   = "AWS/Firehose"
      metric      = "DeliveryToS3.DataFreshness"
      dimensions  = { DeliveryStreamName = c.firehose_stream }
      statistic   = "Maximum"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = local.lake_stale_seconds
      missing     = "notBreaching" # nothing to deliver
    }
    feature-records-set-aside = {
      runbook     = "feature-records-set-aside"
      description = "Aggregates wait in ${c.feature_writer_failure_queue}: the feature-writer could not decode them, or the Feature Store refused them. Each holds its topic, partition, offset and bytes."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = c.feature_writer_failure_queue }
      statistic   = "Maximum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching"
    }
    features-stale = {
      runbook     = "features-stale"
      description = "The oldest latest ${p} feature record is more than ${var.thresholds.feature_age_seconds} s old: the Feature Group is not being updated."
      namespace   = var.metrics_namespace
      metric      = "MaxFeatureAgeSeconds"
      dimensions  = { Environment = var.environment, Pipeline = p }
      statistic   = "Maximum"
      periods     = 2
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.feature_age_seconds
      missing     = "breaching" # the checker reports every 5 minutes; silence means it is not running
    }
    keys-missing = {
      runbook     = "keys-missing"
      description = "At least one key the ${p} checker watches has no record in its Feature Group."
      namespace   = var.metrics_namespace
      metric      = "MissingKeys"
      dimensions  = { Environment = var.environment, Pipeline = p }
      statistic   = "Maximum"
      periods     = 2
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching" # features-stale covers a silent checker
    }
    feature-sanity-failures = {
      runbook     = "feature-sanity-failures"
      description = "A latest ${p} feature record fails one of the spec's checks: ${join("; ", c.checks)}."
      namespace   = var.metrics_namespace
      metric      = "SanityFailures"
      dimensions  = { Environment = var.environment, Pipeline = p }
      statistic   = "Maximum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching"
    }
    feature-writer-lag-high = {
      runbook     = "feature-writer-lag-high"
      description = "The ${p} feature-writer's MSK trigger (event source mapping) is more than ${var.thresholds.feature_writer_lag_records} records behind on ${c.output_topic} for 15 minutes."
      namespace   = "AWS/Lambda"
      metric      = "OffsetLag"
      dimensions  = { FunctionName = c.feature_writer_function }
      statistic   = "Maximum"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.feature_writer_lag_records
      missing     = "notBreaching"
    }
  } : "${p}-${k}" => a }]...))

  # Three alarms a function.
  lambda_alarms = merge([
    for key, f in var.lambda_functions : {
      "lambda-errors-${key}" = {
        runbook     = "lambda-errors"
        description = "The ${key} Lambda (${f.function_name}) failed invocations in 2 of the last 3 5-minute periods."
        metric      = "Errors"
        statistic   = "Sum"
        periods     = 3
        datapoints  = 2
        comparison  = "GreaterThanThreshold"
        threshold   = 0
        function    = f.function_name
      }
      "lambda-throttled-${key}" = {
        runbook     = "lambda-throttled"
        description = "The ${key} Lambda (${f.function_name}) was throttled: its reserved concurrency or the account's is exhausted."
        metric      = "Throttles"
        statistic   = "Sum"
        periods     = 1
        datapoints  = 1
        comparison  = "GreaterThanThreshold"
        threshold   = 0
        function    = f.function_name
      }
      "lambda-near-timeout-${key}" = {
        runbook     = "lambda-near-timeout"
        description = "The ${key} Lambda (${f.function_name}) ran longer than ${floor(var.thresholds.lambda_duration_share * 100)} % of its ${f.timeout} s timeout."
        metric      = "Duration"
        statistic   = "Maximum"
        periods     = 2
        datapoints  = 2
        comparison  = "GreaterThanThreshold"
        threshold   = floor(f.timeout * 1000 * var.thresholds.lambda_duration_share)
        function    = f.function_name
      }
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each            = local.metric_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${local.runbook}${each.value.runbook}.md"
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = local.five_min
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each            = local.lambda_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${local.runbook}${each.value.runbook}.md"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function }
  statistic           = each.value.statistic
  period              = local.five_min
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.datapoints
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching" # a function that was not invoked neither failed nor ran long
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Stalled: no batch committed for 15 minutes, or an instance stranded (it holds no partitions
# while its group has records nobody has committed; the processor reports StrandedBacklog).
# A stranded instance alone commits nothing, but beside a working one the sum of commits would
# hide it: so either counts.
resource "aws_cloudwatch_metric_alarm" "stalled" {
  for_each            = var.pipelines
  alarm_name          = "${var.name}-${each.key}-processor-stalled"
  alarm_description   = "The ${each.key} processor has committed no batch for 15 minutes (not running, stuck, or restarting in a loop), or an instance has held no partitions while its group's input waits (StrandedBacklog above 0). Runbook: ${local.runbook}processor-stalled.md"
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "breaching" # the processor reports every minute while it runs
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "stalled"
    expression  = "IF(FILL(committed, 0) < 1 OR FILL(stranded, 0) > 0, 1, 0)"
    label       = "stalled (1) or turning (0)"
    return_data = true
  }

  metric_query {
    id = "committed"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "BatchesCommitted"
      dimensions  = { Pipeline = each.key, Service = "processor" }
      stat        = "Sum"
      period      = local.five_min
    }
  }

  metric_query {
    id = "stranded"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "StrandedBacklog"
      dimensions  = { Pipeline = each.key, Service = "processor" }
      stat        = "Maximum"
      period      = local.five_min
    }
  }
}

# Dead letters as a share of the input, so a busy hour does not look like a bad one.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each            = var.pipelines
  alarm_name          = "${var.name}-${each.key}-dead-letters-high"
  alarm_description   = "More than ${var.thresholds.dead_letter_percent} % of the ${each.key} input went to the dead-letter topic in 2 of the last 3 5-minute periods. Runbook: ${local.runbook}dead-letters-high.md"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.dead_letter_percent
  treat_missing_data  = "notBreaching" # no input, no share
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "share"
    expression  = "IF(records > 0, 100 * dead / records, 0)"
    label       = "dead letters, % of input"
    return_data = true
  }

  metric_query {
    id = "dead"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "DeadLetters"
      dimensions  = { Pipeline = each.key, Service = "processor" }
      stat        = "Sum"
      period      = local.five_min
    }
  }

  metric_query {
    id = "records"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "RecordsIn"
      dimensions  = { Pipeline = each.key, Service = "processor" }
      stat        = "Sum"
      period      = local.five_min
    }
  }
}

# The one to page on: nothing reaches the lake or the Feature Group.
resource "aws_cloudwatch_composite_alarm" "not_delivering" {
  for_each          = var.pipelines
  alarm_name        = "${var.name}-${each.key}-pipeline-not-delivering"
  alarm_description = "The ${each.key} pipeline is not delivering: its processor is down or stalled, or the lake or the Feature Group has stopped receiving aggregates. Runbook: ${local.runbook}pipeline-not-delivering.md"
  alarm_rule = join(" OR ", [
    for name in concat(
      [aws_cloudwatch_metric_alarm.stalled[each.key].alarm_name],
      [for key in ["processor-not-running", "firehose-delivery-failing", "lake-stale", "features-stale"] : aws_cloudwatch_metric_alarm.metric["${each.key}-${key}"].alarm_name],
    ) :
    "ALARM(\"${name}\")"
  ])
  alarm_actions = [aws_sns_topic.alarms.arn]
  ok_actions    = [aws_sns_topic.alarms.arn]
}

locals {
  dashboards = { for p, c in var.pipelines : p => [
    { title = "Flow: events in, left out by `where`, aggregates and dead letters out (per minute)", metrics = [
      for m in ["RecordsIn", "EventsFiltered", "WindowsEmitted", "DeadLetters", "LateEvents"] :
      [var.metrics_namespace, m, "Pipeline", p, "Service", "processor", { stat = "Sum", period = 60 }]
    ] },
    { title = "Lag: processor on ${c.processor.input_topic} (committed, and not yet handled), feature-writer on ${c.output_topic} (records)", metrics = [
      ["AWS/Kafka", "SumOffsetLag", "Cluster Name", var.msk_cluster_name, "Consumer Group", c.processor.group, "Topic", c.processor.input_topic, { stat = "Maximum" }],
      [var.metrics_namespace, "ConsumerLagTotal", "Pipeline", p, "Service", "processor", { stat = "Sum" }],
      [var.metrics_namespace, "ConsumerLagMax", "Pipeline", p, "Service", "processor", { stat = "Maximum" }],
      ["AWS/Lambda", "OffsetLag", "FunctionName", c.feature_writer_function, { stat = "Maximum" }],
    ] },
    { title = "Latency: transaction commit (ms)", metrics = [
      [var.metrics_namespace, "CommitLatency", "Pipeline", p, "Service", "processor", { stat = "p50" }],
      [var.metrics_namespace, "CommitLatency", "Pipeline", p, "Service", "processor", { stat = "p99" }],
    ] },
    { title = "Processor: tasks, partitions, open windows, aborted batches", metrics = [
      ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", c.processor.cluster, "ServiceName", c.processor.service, { stat = "Minimum" }],
      [var.metrics_namespace, "AssignedPartitions", "Pipeline", p, "Service", "processor", { stat = "Sum" }],
      [var.metrics_namespace, "OpenWindows", "Pipeline", p, "Service", "processor", { stat = "Sum" }],
      [var.metrics_namespace, "BatchesAborted", "Pipeline", p, { stat = "Sum" }],
    ] },
    { title = "Delivery to the lake (Firehose reads ${c.output_topic})", metrics = [
      ["AWS/Firehose", "DeliveryToS3.Records", "DeliveryStreamName", c.firehose_stream, { stat = "Sum" }],
      ["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", c.firehose_stream, { stat = "Maximum" }],
      ["AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", c.firehose_stream, { stat = "Average", yAxis = "right" }],
    ] },
    { title = "Set aside: failure queues (messages), stranded backlog (records)", metrics = [
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.lambda_failure_queue, { stat = "Maximum" }],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", c.feature_writer_failure_queue, { stat = "Maximum" }],
      [var.metrics_namespace, "StrandedBacklog", "Pipeline", p, "Service", "processor", { stat = "Maximum", yAxis = "right" }],
    ] },
    { title = "Lambdas: errors and throttles", metrics = flatten([
      for key, f in var.lambda_functions : [
        ["AWS/Lambda", "Errors", "FunctionName", f.function_name, { stat = "Sum", label = "${key} errors" }],
        ["AWS/Lambda", "Throttles", "FunctionName", f.function_name, { stat = "Sum", label = "${key} throttles" }],
      ] if startswith(key, "${p}-")
    ]) },
    { title = "Lambdas: duration, maximum (ms)", metrics = [
      for key, f in var.lambda_functions : ["AWS/Lambda", "Duration", "FunctionName", f.function_name, { stat = "Maximum", label = key }] if startswith(key, "${p}-")
    ] },
    { title = "Features: freshness (s) and checks", metrics = [
      [var.metrics_namespace, "MaxFeatureAgeSeconds", "Environment", var.environment, "Pipeline", p, { stat = "Maximum" }],
      [var.metrics_namespace, "MissingKeys", "Environment", var.environment, "Pipeline", p, { stat = "Maximum", yAxis = "right" }],
      [var.metrics_namespace, "StaleKeys", "Environment", var.environment, "Pipeline", p, { stat = "Maximum", yAxis = "right" }],
      [var.metrics_namespace, "SanityFailures", "Environment", var.environment, "Pipeline", p, { stat = "Maximum", yAxis = "right" }],
    ] },
  ] }
}

resource "aws_cloudwatch_dashboard" "this" {
  for_each       = var.pipelines
  dashboard_name = "${var.name}-${each.key}"
  dashboard_body = jsonencode({
    widgets = concat(
      [for i, w in local.dashboards[each.key] : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          period  = 300
          metrics = w.metrics
        }
      }],
      [{
        type   = "alarm"
        x      = 0
        y      = ceil(length(local.dashboards[each.key]) / 2) * 6
        width  = 24
        height = 4
        properties = {
          title = "Alarms"
          alarms = concat(
            [aws_cloudwatch_composite_alarm.not_delivering[each.key].arn, aws_cloudwatch_metric_alarm.stalled[each.key].arn],
            [for k, a in aws_cloudwatch_metric_alarm.metric : a.arn if startswith(k, "${each.key}-")],
          )
        }
      }]
    )
  })
}
