# staging: prod's shape at a fraction of its size.
environment = "staging"
region      = "eu-west-1"
account_id  = "222222222222"

network = {
  cidr               = "10.20.0.0/16"
  availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

topics = [
  { name = "ticks", partitions = 6, configs = { "retention.ms" = "259200000", "cleanup.policy" = "delete" } },
  { name = "aggregates", partitions = 6, configs = { "retention.ms" = "604800000", "cleanup.policy" = "delete" } },
  { name = "ticks.dlq", partitions = 1, configs = { "retention.ms" = "1209600000", "cleanup.policy" = "delete" } },
  { name = "ticks.replay", partitions = 6, configs = { "retention.ms" = "259200000", "cleanup.policy" = "delete" } },
]

processor = {
  image_tag     = "0.1.0"
  cpu           = 512
  memory        = 1024
  desired_count = 2
  min_count     = 1
  max_count     = 6
}

lambdas = {
  producer_ticks_per_invocation = 6000
  producer_malformed_share      = 0.001
}

lake = {
  buffering_mib          = 64
  buffering_seconds      = 300
  infrequent_access_days = 30
  glacier_days           = 90
}

feature_store = {
  online_ttl_days = 14
}

log_retention_days = 90

# 6,000 ticks a minute: 60,000 is about 10 minutes behind. Aggregates are one per ticker a minute: 20 is about 5 minutes behind.
alarms = {
  processor_lag_records      = 60000
  feature_writer_lag_records = 20
  dead_letter_percent        = 2
  late_events_per_5min       = 500
  feature_age_seconds        = 600
}
