# prod: three AZs, 12 partitions and up to 12 tasks, a year of logs, large lake files.
environment = "prod"
region      = "eu-west-1"
account_id  = "333333333333"

network = {
  cidr               = "10.30.0.0/16"
  availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

# Every shipped spec, at production size.
pipeline_defaults = {
  partitions             = 12
  dead_letter_partitions = 3
  retention_days         = { input = 7, output = 14, dead_letter = 30 }
  processor              = { cpu = 1024, memory = 2048, desired_count = 3, min_count = 2, max_count = 12 }
  producer               = { events_per_invocation = 60000, malformed_share = 0 }
}

lambdas = {
  feature_writer_concurrency = 16
}

processor = {
  image_tag = "0.1.0"
}

lake = {
  buffering_mib          = 128
  buffering_seconds      = 900
  infrequent_access_days = 90
  glacier_days           = 365
}

feature_store = {
  online_ttl_days = 30
}

log_retention_days = 365

alarm_emails = []

# 60,000 events a minute: 300,000 is about 5 minutes behind. Aggregates are one per key a minute: 20 is about 5 minutes behind.
alarms = {
  processor_lag_records      = 300000
  feature_writer_lag_records = 20
  dead_letter_percent        = 1
  late_events_per_5min       = 1000
  feature_age_seconds        = 600
}
