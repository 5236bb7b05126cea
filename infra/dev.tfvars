# dev: every shipped pipeline at its smallest, short retention, fast lake files, some broken events to exercise the DLQ.
environment = "dev"
region      = "eu-west-1"
account_id  = "111111111111"

network = {
  cidr               = "10.10.0.0/16"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
}

# Every shipped spec, small: short retention, one task each, some broken events to exercise
# the dead-letter path.
pipeline_defaults = {
  retention_days = { input = 1, output = 3, dead_letter = 7 }
  producer       = { events_per_invocation = 300, malformed_share = 0.01 }
}

processor = {
  image_tag = "0.1.0"
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

# 600 events a minute: 10,000 is about 15 minutes behind; 1 % are broken on purpose. Aggregates are one per key a window: 20 is about 5 minutes behind.
alarms = {
  processor_lag_records      = 10000
  feature_writer_lag_records = 20
  dead_letter_percent        = 5
  late_events_per_5min       = 200
  feature_age_seconds        = 900
}
