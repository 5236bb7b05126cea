# Bad values are refused at plan, naming the variable. Run with dev.tfvars; each run overrides
# one value.

mock_provider "aws" {}

run "environment_must_be_known" {
  command = plan
  variables {
    environment = "qa"
  }
  expect_failures = [var.environment]
}

run "account_id_has_twelve_digits" {
  command = plan
  variables {
    account_id = "12345"
  }
  expect_failures = [var.account_id]
}

run "two_availability_zones_at_least" {
  command = plan
  variables {
    network = { cidr = "10.0.0.0/16", availability_zones = ["eu-west-1a"] }
  }
  expect_failures = [var.network]
}

run "shutdown_fits_the_stop_timeout" {
  command = plan
  variables {
    processor = { image_tag = "x", shutdown_seconds = 30 }
  }
  expect_failures = [var.processor]
}

run "task_counts_are_ordered" {
  command = plan
  variables {
    pipelines = { "orders" = { processor = { desired_count = 5, min_count = 1, max_count = 2 } } }
  }
  expect_failures = [var.pipelines]
}

run "a_pipeline_must_have_a_generated_spec" {
  command = plan
  variables {
    pipelines = { "payments" = {} }
  }
  expect_failures = [var.pipelines]
}

run "at_least_one_pipeline_runs" {
  command = plan
  variables {
    pipeline_defaults = { enabled = false }
  }
  expect_failures = [var.pipelines]
}

run "a_malformed_share_is_a_share" {
  command = plan
  variables {
    pipeline_defaults = { producer = { malformed_share = 1.5 } }
  }
  expect_failures = [var.pipelines]
}

run "parquet_conversion_needs_64_mib" {
  command = plan
  variables {
    lake = { buffering_mib = 32, buffering_seconds = 60, infrequent_access_days = 30, glacier_days = 90 }
  }
  expect_failures = [var.lake]
}

run "dynamic_partitioning_has_no_zero_buffering" {
  # Firehose: "Buffer data for dynamic partitioning" (no zero buffering); BufferingHints.
  command = plan
  variables {
    lake = { buffering_mib = 64, buffering_seconds = 30, infrequent_access_days = 30, glacier_days = 90 }
  }
  expect_failures = [var.lake]
}

run "buffering_above_the_api_maximum_is_refused" {
  command = plan
  variables {
    lake = { buffering_mib = 256, buffering_seconds = 900, infrequent_access_days = 30, glacier_days = 90 }
  }
  expect_failures = [var.lake]
}

run "a_topic_is_kept_or_deleted_not_both" {
  command = plan
  variables {
    topics_to_delete = [jsondecode(file("pipelines/orders.json")).topics.dead_letter]
  }
  expect_failures = [var.topics_to_delete]
}

run "log_retention_is_one_cloudwatch_offers" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "topics_need_partitions" {
  command = plan
  variables {
    pipeline_defaults = { partitions = 0 }
  }
  expect_failures = [var.pipelines]
}

run "alarm_thresholds_are_sane" {
  command = plan
  variables {
    alarms = { processor_lag_records = 0, feature_writer_lag_records = 20, dead_letter_percent = 150, late_events_per_5min = 10, feature_age_seconds = 60 }
  }
  expect_failures = [var.alarms]
}
