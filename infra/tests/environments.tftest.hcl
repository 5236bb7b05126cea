# Environment-specific values land where they should. Run once per tfvars by
# scripts/terraform-checks; each assertion speaks about one environment.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "dev" {
  assert {
    condition = var.environment != "dev" || (
      length(output.pipelines) == length(fileset(".", "pipelines/*.json")) &&
      alltrue([for t in output.topics.topics : t.partitions == (endswith(t.name, "dlq") ? 1 : 3)]) &&
      alltrue([for s in values(output.checks.processor_scaling) : s == { min = 1, max = 2 }]) &&
      alltrue([for d in values(output.checks.processor_log_days) : d == 14]) &&
      alltrue([for b in values(output.checks.firehose_buffering) : b == { mib = 64, seconds = 60 }]) &&
      alltrue([for k, e in output.checks.lambda_environments : e.MALFORMED_SHARE == "0.01" if endswith(k, "-producer")]) &&
      alltrue([for k, e in output.checks.lambda_environments : e.ENVIRONMENT == "dev" if endswith(k, "-checker")])
    )
    error_message = "dev: every shipped spec, 3 partitions, 1–2 tasks, 14 days of logs, 64 MiB / 60 s lake files, 1 % broken events."
  }
}

run "staging" {
  assert {
    condition = var.environment != "staging" || (
      alltrue([for t in output.topics.topics : t.partitions == (endswith(t.name, "dlq") ? 1 : 6)]) &&
      alltrue([for s in values(output.checks.processor_scaling) : s == { min = 1, max = 6 }]) &&
      alltrue([for d in values(output.checks.processor_log_days) : d == 90]) &&
      alltrue([for b in values(output.checks.firehose_buffering) : b == { mib = 64, seconds = 300 }]) &&
      alltrue([for k, e in output.checks.lambda_environments : e.ENVIRONMENT == "staging" if endswith(k, "-checker")])
    )
    error_message = "staging: 6 partitions, 1–6 tasks, 90 days of logs, 64 MiB / 300 s lake files."
  }
}

run "prod" {
  assert {
    condition = var.environment != "prod" || (
      alltrue([for t in output.topics.topics : t.partitions == (endswith(t.name, "dlq") ? 3 : 12)]) &&
      alltrue([for s in values(output.checks.processor_scaling) : s == { min = 2, max = 12 }]) &&
      alltrue([for t in values(output.checks.processor_task) : t.cpu == "1024"]) &&
      alltrue([for d in values(output.checks.processor_log_days) : d == 365]) &&
      alltrue([for b in values(output.checks.firehose_buffering) : b == { mib = 128, seconds = 900 }]) &&
      alltrue([for d in values(output.checks.online_ttl_days) : d == 30]) &&
      alltrue([for k, e in output.checks.lambda_environments : e.MALFORMED_SHARE == "0" if endswith(k, "-producer")]) &&
      alltrue([for k, e in output.checks.lambda_environments : e.WRITE_CONCURRENCY == "16" if endswith(k, "-feature-writer")]) &&
      alltrue([for k, e in output.checks.lambda_environments : e.ENVIRONMENT == "prod" if endswith(k, "-checker")])
    )
    error_message = "prod: 12 partitions, 2–12 one-vCPU tasks, a year of logs, 128 MiB / 900 s lake files, 30 days online, no broken events."
  }
}

run "alarm_thresholds" {
  assert {
    condition = (
      alltrue([for p, _ in output.pipelines :
        output.alarms["${var.project}-${var.environment}-${p}-processor-lag-high"].threshold == { dev = 10000, staging = 60000, prod = 300000 }[var.environment] &&
        output.alarms["${var.project}-${var.environment}-${p}-dead-letters-high"].threshold == { dev = 5, staging = 2, prod = 1 }[var.environment] &&
        output.alarms["${var.project}-${var.environment}-${p}-features-stale"].threshold == { dev = 900, staging = 600, prod = 600 }[var.environment]
      ])
    )
    error_message = "Each environment's alarm thresholds come from its tfvars: lag of about 5 to 15 minutes, dead letters above what the producer breaks on purpose."
  }
}
