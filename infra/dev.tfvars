# dev: smallest sizes, short retention, fast lake files, some broken ticks to exercise the DLQ.
environment = "dev"
region      = "eu-west-1"
account_id  = "111111111111"

network = {
  cidr               = "10.10.0.0/16"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
}

topics = [
  { name = "ticks", partitions = 3, configs = { "retention.ms" = "86400000", "cleanup.policy" = "delete" } },
  { name = "aggregates", partitions = 3, configs = { "retention.ms" = "259200000", "cleanup.policy" = "delete" } },
  { name = "ticks.dlq", partitions = 1, configs = { "retention.ms" = "604800000", "cleanup.policy" = "delete" } },
  { name = "ticks.replay", partitions = 3, configs = { "retention.ms" = "86400000", "cleanup.policy" = "delete" } },
]

processor = {
  image_tag     = "0.1.0"
  cpu           = 256
  memory        = 512
  desired_count = 1
  min_count     = 1
  max_count     = 2
}

lambdas = {
  producer_ticks_per_invocation = 600
  producer_malformed_share      = 0.01
}

lake = {
  buffering_mib          = 64
  buffering_seconds      = 60
  infrequent_access_days = 30
  glacier_days           = 90
}

feature_store = {
  online_ttl_days = 7
}

log_retention_days = 14

# 600 ticks a minute: 10,000 is about 15 minutes behind; 1 % of ticks are broken on purpose. Aggregates are one per ticker a minute: 20 is about 5 minutes behind.
alarms = {
  processor_lag_records      = 10000
  feature_writer_lag_records = 20
  dead_letter_percent        = 5
  late_events_per_5min       = 200
  feature_age_seconds        = 900
}
