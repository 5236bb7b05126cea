# The streaming pipeline, one environment per state: network, MSK Serverless and its topics, the
# processor on Fargate, the four Lambdas, the lake (Firehose → S3 Parquet, Glue), the Feature
# Group, and the alarm topic. Environment differences live only in <env>.tfvars.

locals {
  name = "${var.project}-${var.environment}"

  # Generated from the pipeline spec by `processor schema`; a Rust test fails when it is stale.
  schema = jsondecode(file("${path.module}/schema.json"))

  # The topics every part agrees on: the spec's names.
  input_topic       = "ticks"
  output_topic      = "aggregates"
  dead_letter_topic = "ticks.dlq"
  # Where `processor replay` re-publishes records after a fix, for a backfill processor.
  replay_topic = "ticks.replay"

  metrics_namespace = "StreamingPipeline/${var.environment}"

  aggregates_partitions = one([for t in var.topics : t.partitions if t.name == local.output_topic])
}

module "kms" {
  source     = "./modules/kms"
  name       = local.name
  account_id = var.account_id
  region     = var.region
}

module "network" {
  source             = "./modules/network"
  name               = local.name
  region             = var.region
  cidr               = var.network.cidr
  availability_zones = var.network.availability_zones
  nat_gateway        = var.network.nat_gateway
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "msk" {
  source                      = "./modules/msk"
  name                        = local.name
  vpc_id                      = module.network.vpc_id
  subnet_ids                  = module.network.private_subnet_ids
  client_security_group_id    = module.network.clients_security_group_id
  endpoints_security_group_id = module.network.endpoints_security_group_id
}

module "delivery" {
  source                   = "./modules/delivery"
  name                     = local.name
  region                   = var.region
  account_id               = var.account_id
  kms_key_arn              = module.kms.key_arn
  cluster_arn              = module.msk.arn
  kafka_arn_pattern        = module.msk.arn_pattern
  cluster_policy           = module.msk.cluster_policy
  topic                    = local.output_topic
  schema                   = local.schema.lake
  buffering_mib            = var.lake.buffering_mib
  buffering_seconds        = var.lake.buffering_seconds
  infrequent_access_days   = var.lake.infrequent_access_days
  glacier_days             = var.lake.glacier_days
  noncurrent_versions_days = var.lake.noncurrent_versions_days
  log_retention_days       = var.log_retention_days
}

module "feature_store" {
  source          = "./modules/feature_store"
  name            = local.name
  region          = var.region
  account_id      = var.account_id
  kms_key_arn     = module.kms.key_arn
  bucket_name     = module.delivery.bucket_name
  glue_database   = module.delivery.glue_database
  schema          = local.schema.feature_group
  online_ttl_days = var.feature_store.online_ttl_days
}

module "lambdas" {
  source             = "./modules/lambdas"
  name               = local.name
  environment        = var.environment
  region             = var.region
  account_id         = var.account_id
  package_dir        = "${path.module}/${var.lambdas.package_dir}"
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  subnet_ids         = module.network.private_subnet_ids
  security_group_id  = module.network.clients_security_group_id
  cluster_arn        = module.msk.arn
  kafka_arn_pattern  = module.msk.arn_pattern
  input_topic        = local.input_topic
  output_topic       = local.output_topic
  feature_group_name = module.feature_store.name
  feature_group_arn  = module.feature_store.arn
  tickers            = var.lambdas.tickers
  metrics_namespace  = local.metrics_namespace

  producer_ticks_per_invocation       = var.lambdas.producer_ticks_per_invocation
  producer_malformed_share            = var.lambdas.producer_malformed_share
  feature_writer_batch_size           = var.lambdas.feature_writer_batch_size
  feature_writer_batching_seconds     = var.lambdas.feature_writer_batching_seconds
  feature_writer_concurrency          = var.lambdas.feature_writer_concurrency
  feature_writer_reserved_concurrency = local.aggregates_partitions
  checker_freshness_seconds           = var.lambdas.checker_freshness_seconds
  topics_to_delete                    = var.topics_to_delete
  # The producer's schedule and the feature-writer's trigger start once the topics exist.
  topics_ready = module.topics.result
}

module "topics" {
  source        = "./modules/topics"
  function_name = module.lambdas.function_names["topic-creator"]
  cluster_arn   = module.msk.arn
  topics        = var.topics
  delete        = var.topics_to_delete

  # The topic-creator reaches the brokers and the endpoints only once the network and the
  # cluster's rules are in place: invoke it after all of them.
  depends_on = [module.network, module.msk]
}

module "processor" {
  source             = "./modules/processor"
  name               = local.name
  region             = var.region
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  subnet_ids         = module.network.private_subnet_ids
  security_group_id  = module.network.clients_security_group_id
  cluster_arn        = module.msk.arn
  bootstrap_brokers  = module.msk.bootstrap_brokers
  kafka_arn_pattern  = module.msk.arn_pattern
  input_topic        = local.input_topic
  output_topic       = local.output_topic
  dead_letter_topic  = local.dead_letter_topic
  replay_topic       = local.replay_topic
  metrics_namespace  = local.metrics_namespace
  image_tag          = var.processor.image_tag
  cpu                = var.processor.cpu
  memory             = var.processor.memory
  desired_count      = var.processor.desired_count
  min_count          = var.processor.min_count
  max_count          = var.processor.max_count
  delivery           = var.processor.delivery
  target_cpu         = var.processor.target_cpu
  target_lag         = var.processor.target_lag
  shutdown_seconds   = var.processor.shutdown_seconds
  # The service starts once the topic-creator has answered (the repository need not wait).
  topics_ready = module.topics.result
}

module "observability" {
  source               = "./modules/observability"
  name                 = local.name
  environment          = var.environment
  region               = var.region
  kms_key_arn          = module.kms.key_arn
  emails               = var.alarm_emails
  runbook_base_url     = var.runbook_base_url
  metrics_namespace    = local.metrics_namespace
  msk_cluster_name     = module.msk.name
  firehose_stream_name = module.delivery.stream_name
  lake_buffer_seconds  = var.lake.buffering_seconds
  failure_queues       = module.lambdas.failure_queue_names
  thresholds           = var.alarms
  processor = {
    cluster     = module.processor.cluster_name
    service     = module.processor.service_name
    log_group   = module.processor.log_group_name
    group       = module.processor.consumer_group
    input_topic = local.input_topic
    min_tasks   = var.processor.min_count
  }
  lambda_functions = {
    for k, name in module.lambdas.function_names : k => { function_name = name, timeout = module.lambdas.timeouts[k] }
  }
}
