# staging: prod's shape at a fraction of its size.
environment = "staging"
region      = "eu-west-1"
account_id  = "222222222222"

network = {
  cidr               = "10.20.0.0/16"
  availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

# Every shipped spec at a fraction of prod's size.
pipeline_defaults = {
  partitions     = 6
  retention_days = { input = 3, output = 7, dead_letter = 14 }
  processor      = { cpu = 512, memory = 1024, desired_count = 2, min_count = 1, max_count = 6 }
  producer       = { events_per_invocation = 6000, malformed_share = 0.001 }
}

processor = {
  image_tag = "0.1.0"
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

# 6,000 events a minute: 60,000 is about 10 minutes behind. Aggregates are one per key a window: 20 is about 5 minutes behind.
alarms = {
  processor_lag_records      = 60000
  feature_writer_lag_records = 20
  dead_letter_percent        = 2
  late_events_per_5min       = 500
  feature_age_seconds        = 600
}
