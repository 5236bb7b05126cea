# prod: three AZs, 12 partitions and up to 12 tasks, a year of logs, large lake files.
environment = "prod"
region      = "eu-west-1"
account_id  = "333333333333"

network = {
  cidr               = "10.30.0.0/16"
  availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

topics = [
  { name = "ticks", partitions = 12, configs = { "retention.ms" = "604800000", "cleanup.policy" = "delete" } },
  { name = "aggregates", partitions = 12, configs = { "retention.ms" = "1209600000", "cleanup.policy" = "delete" } },
  { name = "ticks.dlq", partitions = 3, configs = { "retention.ms" = "2592000000", "cleanup.policy" = "delete" } },
  { name = "ticks.replay", partitions = 12, configs = { "retention.ms" = "604800000", "cleanup.policy" = "delete" } },
]

processor = {
  image_tag     = "0.1.0"
  cpu           = 1024
  memory        = 2048
  desired_count = 3
  min_count     = 2
  max_count     = 12
}

lambdas = {
  producer_ticks_per_invocation = 60000
  producer_malformed_share      = 0
  feature_writer_concurrency    = 16
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

# 60,000 ticks a minute: 300,000 is about 5 minutes behind. Aggregates are one per ticker a minute: 20 is about 5 minutes behind.
alarms = {
  processor_lag_records      = 300000
  feature_writer_lag_records = 20
  dead_letter_percent        = 1
  late_events_per_5min       = 1000
  feature_age_seconds        = 600
}
