# Environment-specific values land where they should. Run once per tfvars by
# scripts/terraform-checks; each assertion speaks about one environment.

mock_provider "aws" {
  source = "./tests/mocks"
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
