# Where every alarm goes, the alarms themselves, and the dashboard. Each alarm's description
# says what it means and links its runbook (docs/operations/runbooks/<runbook>.md); missing
# data is treated deliberately, alarm by alarm; every alarm notifies the topic when it fires
# and when it recovers.

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
resource "aws_cloudwatch_log_metric_filter" "batches_aborted" {
  name           = "${var.name}-processor-batches-aborted"
  log_group_name = var.processor.log_group
  pattern        = "{ $.message = \"batch not delivered; stopping\" }"

  metric_transformation {
    name          = "BatchesAborted"
    namespace     = var.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

locals {
  # Firehose delivers a partition's buffer within 1.5 times its interval (multi-stage buffering,
  # Firehose: "Buffer data for dynamic partitioning"); 15 minutes more before paging.
  lake_stale_seconds = ceil(var.lake_buffer_seconds * 1.5) + 900

  service   = { Service = "processor" }
  env       = { Environment = var.environment }
  runbook   = "${trimsuffix(var.runbook_base_url, "/")}/"
  five_min  = 300
  lag_group = { "Cluster Name" = var.msk_cluster_name, "Consumer Group" = var.processor.group, Topic = var.processor.input_topic }

  # One alarm a metric: what it watches and what it means.
  metric_alarms = {
    processor-lag-high = {
      runbook     = "processor-lag-high"
      description = "The processor's consumer group is more than ${var.thresholds.processor_lag_records} records behind on ${var.processor.input_topic} for 15 minutes: aggregates are late."
      namespace   = "AWS/Kafka"
      metric      = "SumOffsetLag"
      dimensions  = local.lag_group
      statistic   = "Maximum"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.processor_lag_records
      missing     = "notBreaching" # MSK reports no lag for a group with nothing to read
    }
    processor-not-running = {
      runbook     = "processor-not-running"
      description = "Fewer than ${var.processor.min_tasks} processor tasks are running: partitions are unowned or a deployment is failing."
      namespace   = "ECS/ContainerInsights"
      metric      = "RunningTaskCount"
      dimensions  = { ClusterName = var.processor.cluster, ServiceName = var.processor.service }
      statistic   = "Minimum"
      periods     = 2
      comparison  = "LessThanThreshold"
      threshold   = var.processor.min_tasks
      missing     = "breaching" # no report means no tasks
    }
    processor-batches-aborted = {
      runbook     = "processor-batches-aborted"
      description = "The processor stopped on a batch it could not deliver (transaction aborted) at least twice in 15 minutes."
      namespace   = var.metrics_namespace
      metric      = "BatchesAborted"
      dimensions  = {}
      statistic   = "Sum"
      periods     = 3
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = 2
      missing     = "notBreaching" # the filter reports 0 only when other lines arrive
    }
    late-events-spike = {
      runbook     = "late-events-spike"
      description = "More than ${var.thresholds.late_events_per_5min} ticks in 5 minutes arrived after their window closed (dead-lettered as late)."
      namespace   = var.metrics_namespace
      metric      = "LateEvents"
      dimensions  = local.service
      statistic   = "Sum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.late_events_per_5min
      missing     = "notBreaching" # no input, no late events
    }
    firehose-delivery-failing = {
      runbook     = "firehose-delivery-failing"
      description = "Firehose is failing to write the lake (DeliveryToS3.Success below 1) for 15 minutes: S3, KMS, Glue or the Parquet conversion."
      namespace   = "AWS/Firehose"
      metric      = "DeliveryToS3.Success"
      dimensions  = { DeliveryStreamName = var.firehose_stream_name }
      statistic   = "Average"
      periods     = 3
      comparison  = "LessThanThreshold"
      threshold   = 1
      missing     = "notBreaching" # no deliveries attempted
    }
    lake-stale = {
      runbook     = "lake-stale"
      description = "The oldest aggregate Firehose holds has waited more than ${local.lake_stale_seconds} s (its ${var.lake_buffer_seconds} s buffer, half as much again for its multi-stage buffering, and 15 minutes) for 15 minutes: the lake is falling behind the aggregates topic."
      namespace   = "AWS/Firehose"
      metric      = "DeliveryToS3.DataFreshness"
      dimensions  = { DeliveryStreamName = var.firehose_stream_name }
      statistic   = "Maximum"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = local.lake_stale_seconds
      missing     = "notBreaching" # nothing to deliver
    }
    lambda-failures-queued = {
      runbook     = "lambda-failures-queued"
      description = "Messages wait in ${var.failure_queues.lambda}: a scheduled invocation failed every retry, or the feature-writer's trigger gave up on a batch. Each holds what to replay."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.failure_queues.lambda }
      statistic   = "Maximum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching" # SQS stops reporting a queue idle for hours: empty
    }
    feature-records-set-aside = {
      runbook     = "feature-records-set-aside"
      description = "Aggregates wait in ${var.failure_queues.feature_writer}: the feature-writer could not decode them, or the Feature Store refused them. Each holds its topic, partition, offset and bytes."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.failure_queues.feature_writer }
      statistic   = "Maximum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching"
    }
    features-stale = {
      runbook     = "features-stale"
      description = "The oldest latest feature record is more than ${var.thresholds.feature_age_seconds} s old: the Feature Group is not being updated."
      namespace   = var.metrics_namespace
      metric      = "MaxFeatureAgeSeconds"
      dimensions  = local.env
      statistic   = "Maximum"
      periods     = 2
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.feature_age_seconds
      missing     = "breaching" # the checker reports every 5 minutes; silence means it is not running
    }
    tickers-missing = {
      runbook     = "tickers-missing"
      description = "At least one configured ticker has no record in the Feature Group."
      namespace   = var.metrics_namespace
      metric      = "MissingTickers"
      dimensions  = local.env
      statistic   = "Maximum"
      periods     = 2
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching" # features-stale covers a silent checker
    }
    feature-sanity-failures = {
      runbook     = "feature-sanity-failures"
      description = "A latest feature record fails a sanity check (low <= open, close <= high, count > 0, VWAP within [low, high])."
      namespace   = var.metrics_namespace
      metric      = "SanityFailures"
      dimensions  = local.env
      statistic   = "Maximum"
      periods     = 1
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      missing     = "notBreaching"
    }
    feature-writer-lag-high = {
      runbook     = "feature-writer-lag-high"
      description = "The feature-writer's MSK trigger (event source mapping) is more than ${var.thresholds.feature_writer_lag_records} records behind on the aggregates topic for 15 minutes."
      namespace   = "AWS/Lambda"
      metric      = "OffsetLag"
      dimensions  = { FunctionName = var.lambda_functions["feature-writer"].function_name }
      statistic   = "Maximum"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.thresholds.feature_writer_lag_records
      missing     = "notBreaching"
    }
  }

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
  alarm_name          = "${var.name}-processor-stalled"
  alarm_description   = "The processor has committed no batch for 15 minutes (not running, stuck, or restarting in a loop), or an instance has held no partitions while its group's input waits (StrandedBacklog above 0). Runbook: ${local.runbook}processor-stalled.md"
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
      dimensions  = local.service
      stat        = "Sum"
      period      = local.five_min
    }
  }

  metric_query {
    id = "stranded"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "StrandedBacklog"
      dimensions  = local.service
      stat        = "Maximum"
      period      = local.five_min
    }
  }
}

# Dead letters as a share of the input, so a busy hour does not look like a bad one.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters-high"
  alarm_description   = "More than ${var.thresholds.dead_letter_percent} % of the input went to the dead-letter topic in 2 of the last 3 5-minute periods. Runbook: ${local.runbook}dead-letters-high.md"
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
      dimensions  = local.service
      stat        = "Sum"
      period      = local.five_min
    }
  }

  metric_query {
    id = "records"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "RecordsIn"
      dimensions  = local.service
      stat        = "Sum"
      period      = local.five_min
    }
  }
}

# The one to page on: nothing reaches the lake or the Feature Group.
resource "aws_cloudwatch_composite_alarm" "not_delivering" {
  alarm_name        = "${var.name}-pipeline-not-delivering"
  alarm_description = "The pipeline is not delivering: the processor is down or stalled, or the lake or the Feature Group has stopped receiving aggregates. Runbook: ${local.runbook}pipeline-not-delivering.md"
  alarm_rule = join(" OR ", [
    for name in concat(
      [aws_cloudwatch_metric_alarm.stalled.alarm_name],
      [for key in ["processor-not-running", "firehose-delivery-failing", "lake-stale", "features-stale"] : aws_cloudwatch_metric_alarm.metric[key].alarm_name],
    ) :
    "ALARM(\"${name}\")"
  ])
  alarm_actions = [aws_sns_topic.alarms.arn]
  ok_actions    = [aws_sns_topic.alarms.arn]
}

locals {
  emf = [var.metrics_namespace]
  widgets = [
    { title = "Flow: ticks in, aggregates and dead letters out (per minute)", metrics = [
      [var.metrics_namespace, "RecordsIn", "Service", "processor", { stat = "Sum", period = 60 }],
      [var.metrics_namespace, "WindowsEmitted", "Service", "processor", { stat = "Sum", period = 60 }],
      [var.metrics_namespace, "DeadLetters", "Service", "processor", { stat = "Sum", period = 60 }],
      [var.metrics_namespace, "LateEvents", "Service", "processor", { stat = "Sum", period = 60 }],
    ] },
    { title = "Lag: processor on ticks (committed, and not yet handled), feature-writer on aggregates (records)", metrics = [
      ["AWS/Kafka", "SumOffsetLag", "Cluster Name", var.msk_cluster_name, "Consumer Group", var.processor.group, "Topic", var.processor.input_topic, { stat = "Maximum" }],
      [var.metrics_namespace, "ConsumerLagTotal", "Service", "processor", { stat = "Sum" }],
      [var.metrics_namespace, "ConsumerLagMax", "Service", "processor", { stat = "Maximum" }],
      ["AWS/Lambda", "OffsetLag", "FunctionName", var.lambda_functions["feature-writer"].function_name, { stat = "Maximum" }],
    ] },
    { title = "Latency: transaction commit (ms)", metrics = [
      [var.metrics_namespace, "CommitLatency", "Service", "processor", { stat = "p50" }],
      [var.metrics_namespace, "CommitLatency", "Service", "processor", { stat = "p99" }],
    ] },
    { title = "Processor: tasks, partitions, open windows, aborted batches", metrics = [
      ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.processor.cluster, "ServiceName", var.processor.service, { stat = "Minimum" }],
      [var.metrics_namespace, "AssignedPartitions", "Service", "processor", { stat = "Sum" }],
      [var.metrics_namespace, "OpenWindows", "Service", "processor", { stat = "Sum" }],
      [var.metrics_namespace, "BatchesAborted", { stat = "Sum" }],
    ] },
    { title = "Delivery to the lake (Firehose reads the aggregates topic)", metrics = [
      ["AWS/Firehose", "DeliveryToS3.Records", "DeliveryStreamName", var.firehose_stream_name, { stat = "Sum" }],
      ["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", var.firehose_stream_name, { stat = "Maximum" }],
      ["AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", var.firehose_stream_name, { stat = "Average", yAxis = "right" }],
    ] },
    { title = "Set aside: failure queues (messages), stranded backlog (records)", metrics = [
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.failure_queues.lambda, { stat = "Maximum" }],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.failure_queues.feature_writer, { stat = "Maximum" }],
      [var.metrics_namespace, "StrandedBacklog", "Service", "processor", { stat = "Maximum", yAxis = "right" }],
    ] },
    { title = "Lambdas: errors and throttles", metrics = flatten([
      for key, f in var.lambda_functions : [
        ["AWS/Lambda", "Errors", "FunctionName", f.function_name, { stat = "Sum", label = "${key} errors" }],
        ["AWS/Lambda", "Throttles", "FunctionName", f.function_name, { stat = "Sum", label = "${key} throttles" }],
      ]
    ]) },
    { title = "Lambdas: duration, maximum (ms)", metrics = [
      for key, f in var.lambda_functions : ["AWS/Lambda", "Duration", "FunctionName", f.function_name, { stat = "Maximum", label = key }]
    ] },
    { title = "Features: freshness (s) and checks", metrics = [
      [var.metrics_namespace, "MaxFeatureAgeSeconds", "Environment", var.environment, { stat = "Maximum" }],
      [var.metrics_namespace, "MissingTickers", "Environment", var.environment, { stat = "Maximum", yAxis = "right" }],
      [var.metrics_namespace, "StaleTickers", "Environment", var.environment, { stat = "Maximum", yAxis = "right" }],
      [var.metrics_namespace, "SanityFailures", "Environment", var.environment, { stat = "Maximum", yAxis = "right" }],
    ] },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      [for i, w in local.widgets : {
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
        y      = ceil(length(local.widgets) / 2) * 6
        width  = 24
        height = 4
        properties = {
          title  = "Alarms"
          alarms = concat([aws_cloudwatch_composite_alarm.not_delivering.arn, aws_cloudwatch_metric_alarm.stalled.arn], [for a in aws_cloudwatch_metric_alarm.metric : a.arn])
        }
      }]
    )
  })
}
