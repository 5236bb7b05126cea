# Environment-specific values land where they should. Run once per tfvars by
# scripts/terraform-checks; each assertion speaks about one environment.

mock_provider "aws" {
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111111111111:role/mock" }
  }
  mock_resource "aws_msk_serverless_cluster" {
    defaults = {
      arn                        = "arn:aws:kafka:eu-west-1:111111111111:cluster/stock-ticks/0a1b2c3d-1111-2222-3333-444455556666-s1"
      bootstrap_brokers_sasl_iam = "boot-mock.c1.kafka-serverless.eu-west-1.amazonaws.com:9098"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:111111111111:mock"
      url = "https://sqs.eu-west-1.amazonaws.com/111111111111/mock"
    }
  }
  mock_resource "aws_sagemaker_feature_group" {
    defaults = { arn = "arn:aws:sagemaker:eu-west-1:111111111111:feature-group/mock" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111111111111:log-group:mock" }
  }
  mock_resource "aws_kinesis_firehose_delivery_stream" {
    defaults = { arn = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/mock" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:111111111111:function:mock" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:111111111111:rule/mock" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:111111111111:repository/mock"
      repository_url = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/mock"
    }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock:1" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:111111111111:mock" }
  }
}

run "dev" {
  assert {
    condition = var.environment != "dev" || (
      output.topics.topics[0].partitions == 3 &&
      output.checks.processor_scaling == { min = 1, max = 2 } &&
      output.checks.processor_log_days == 14 &&
      output.checks.firehose_buffering == { mib = 64, seconds = 60 } &&
      output.checks.lambda_environments.producer.MALFORMED_SHARE == "0.01" &&
      output.checks.lambda_environments.checker.ENVIRONMENT == "dev"
    )
    error_message = "dev: 3 partitions, 1–2 tasks, 14 days of logs, 64 MiB / 60 s lake files, 1 % broken ticks."
  }
}

run "staging" {
  assert {
    condition = var.environment != "staging" || (
      output.topics.topics[0].partitions == 6 &&
      output.checks.processor_scaling == { min = 1, max = 6 } &&
      output.checks.processor_log_days == 90 &&
      output.checks.firehose_buffering == { mib = 64, seconds = 300 } &&
      output.checks.lambda_environments.checker.ENVIRONMENT == "staging"
    )
    error_message = "staging: 6 partitions, 1–6 tasks, 90 days of logs, 64 MiB / 300 s lake files."
  }
}

run "prod" {
  assert {
    condition = var.environment != "prod" || (
      output.topics.topics[0].partitions == 12 &&
      output.checks.processor_scaling == { min = 2, max = 12 } &&
      output.checks.processor_task.cpu == "1024" &&
      output.checks.processor_log_days == 365 &&
      output.checks.firehose_buffering == { mib = 128, seconds = 900 } &&
      output.checks.online_ttl_days == 30 &&
      output.checks.lambda_environments.producer.MALFORMED_SHARE == "0" &&
      output.checks.lambda_environments["feature-writer"].WRITE_CONCURRENCY == "16" &&
      output.checks.lambda_environments.checker.ENVIRONMENT == "prod"
    )
    error_message = "prod: 12 partitions, 2–12 one-vCPU tasks, a year of logs, 128 MiB / 900 s lake files, 30 days online, no broken ticks."
  }
}

run "alarm_thresholds" {
  assert {
    condition = (
      output.alarms["${var.project}-${var.environment}-processor-lag-high"].threshold == { dev = 10000, staging = 60000, prod = 300000 }[var.environment] &&
      output.alarms["${var.project}-${var.environment}-dead-letters-high"].threshold == { dev = 5, staging = 2, prod = 1 }[var.environment] &&
      output.alarms["${var.project}-${var.environment}-features-stale"].threshold == { dev = 900, staging = 600, prod = 600 }[var.environment]
    )
    error_message = "Each environment's alarm thresholds come from its tfvars: lag of about 5 to 15 minutes, dead letters above what the producer breaks on purpose."
  }
}
