# The streaming pipelines, one environment per state: network, MSK Serverless and every
# pipeline's topics, the topic-creator, the processor image repository, the lake bucket and its
# Glue database, the alarm topic; and for each pipeline (a spec in config/pipelines/, generated
# into infra/pipelines/<name>.json) its processor service, producer, feature-writer and checker,
# Firehose stream and Glue table, Feature Group, alarms and dashboard. Environment differences
# live only in <env>.tfvars.

locals {
  name = "${var.project}-${var.environment}"

  # Every generated spec (`processor schema`; a Rust test fails when a file is stale), and how
  # each enabled one runs. Names and columns come only from these files.
  available = toset([for f in fileset("${path.module}/pipelines", "*.json") : trimsuffix(f, ".json")])
  settings = {
    for name in local.available : name => lookup(var.pipelines, name, var.pipeline_defaults)
    if lookup(var.pipelines, name, var.pipeline_defaults).enabled
  }
  specs = { for name, _ in local.settings : name => jsondecode(file("${path.module}/pipelines/${name}.json")) }

  # Every pipeline's topics: input, aggregates and replay with its partitions, the dead-letter
  # topic with its own; retention per kind.
  day_ms = 86400000
  topics = flatten([
    for name, p in local.settings : [
      for kind, topic in local.specs[name].topics : {
        name       = topic
        partitions = kind == "dead_letter" ? p.dead_letter_partitions : p.partitions
        configs = {
          "retention.ms"   = tostring(local.day_ms * p.retention_days[kind == "replay" ? "input" : kind])
          "cleanup.policy" = "delete"
        }
      }
    ]
  ])

  metrics_namespace = "StreamingPipeline/${var.environment}"
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
  source            = "./modules/delivery"
  name              = local.name
  region            = var.region
  account_id        = var.account_id
  kms_key_arn       = module.kms.key_arn
  cluster_arn       = module.msk.arn
  kafka_arn_pattern = module.msk.arn_pattern
  cluster_policy    = module.msk.cluster_policy
  pipelines = {
    for name, spec in local.specs : name => { topic = spec.topics.output, schema = spec.lake }
  }
  buffering_mib            = var.lake.buffering_mib
  buffering_seconds        = var.lake.buffering_seconds
  infrequent_access_days   = var.lake.infrequent_access_days
  glacier_days             = var.lake.glacier_days
  noncurrent_versions_days = var.lake.noncurrent_versions_days
  log_retention_days       = var.log_retention_days
}

# Avro or Protobuf input through the Glue Schema Registry: the registries and schemas the specs
# name.
module "schemas" {
  source = "./modules/schemas"
  name   = local.name
  pipelines = {
    for name, spec in local.specs : name => {
      registry    = spec.input.glue_registry
      schema      = spec.input.glue_schema
      definition  = spec.input.schema_definition
      data_format = upper(spec.input.format)
    } if contains(["avro", "protobuf"], spec.input.format) && spec.input.registry == "glue"
  }
}

module "feature_store" {
  source          = "./modules/feature_store"
  for_each        = local.specs
  name            = "${local.name}-${each.key}"
  pipeline        = each.key
  region          = var.region
  account_id      = var.account_id
  kms_key_arn     = module.kms.key_arn
  bucket_name     = module.delivery.bucket_name
  offline_prefix  = "feature-store/${each.key}/"
  glue_database   = module.delivery.glue_database
  schema          = each.value.feature_group
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
  metrics_namespace  = local.metrics_namespace
  pipelines = {
    for name, p in local.settings : name => {
      input_topic        = local.specs[name].topics.input
      output_topic       = local.specs[name].topics.output
      feature_group_name = module.feature_store[name].name
      feature_group_arn  = module.feature_store[name].arn
      keys               = p.keys
      producer           = p.producer
      glue_schema        = lookup(module.schemas.schemas, name, null)
      feature_writer = {
        batch_size       = var.lambdas.feature_writer_batch_size
        batching_seconds = var.lambdas.feature_writer_batching_seconds
        concurrency      = var.lambdas.feature_writer_concurrency
        # MSK invokes one per partition at most.
        reserved_concurrency = p.partitions
      }
      checker = {
        freshness_seconds = var.lambdas.checker_freshness_seconds
        watch_keys        = p.checker.watch_keys
      }
    }
  }
  topics_to_delete = var.topics_to_delete
  # The schedules and the feature-writers' triggers start once the topics exist.
  topics_ready = module.topics.result
}

module "topics" {
  source        = "./modules/topics"
  function_name = module.lambdas.function_names["topic-creator"]
  cluster_arn   = module.msk.arn
  topics        = local.topics
  delete        = var.topics_to_delete

  # The topic-creator reaches the brokers and the endpoints only once the network and the
  # cluster's rules are in place: invoke it after all of them.
  depends_on = [module.network, module.msk]
}

module "registry" {
  source      = "./modules/registry"
  name        = local.name
  kms_key_arn = module.kms.key_arn
}

module "processor" {
  source             = "./modules/processor"
  for_each           = local.settings
  name               = "${local.name}-${each.key}"
  pipeline           = each.key
  repository_url     = module.registry.repository_url
  repository_arn     = module.registry.repository_arn
  region             = var.region
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  subnet_ids         = module.network.private_subnet_ids
  security_group_id  = module.network.clients_security_group_id
  cluster_arn        = module.msk.arn
  bootstrap_brokers  = module.msk.bootstrap_brokers
  kafka_arn_pattern  = module.msk.arn_pattern
  input_topic        = local.specs[each.key].topics.input
  output_topic       = local.specs[each.key].topics.output
  dead_letter_topic  = local.specs[each.key].topics.dead_letter
  replay_topic       = local.specs[each.key].topics.replay
  glue_schema        = lookup(module.schemas.schemas, each.key, null)
  metrics_namespace  = local.metrics_namespace
  image_tag          = var.processor.image_tag
  delivery           = var.processor.delivery
  shutdown_seconds   = var.processor.shutdown_seconds
  cpu                = each.value.processor.cpu
  memory             = each.value.processor.memory
  desired_count      = each.value.processor.desired_count
  min_count          = each.value.processor.min_count
  max_count          = each.value.processor.max_count
  target_cpu         = each.value.processor.target_cpu
  target_lag         = each.value.processor.target_lag
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
  lake_buffer_seconds  = var.lake.buffering_seconds
  lambda_failure_queue = module.lambdas.failure_queue_names.lambda
  thresholds           = var.alarms
  pipelines = {
    for name, p in local.settings : name => {
      processor = {
        cluster     = module.processor[name].cluster_name
        service     = module.processor[name].service_name
        log_group   = module.processor[name].log_group_name
        group       = module.processor[name].consumer_group
        input_topic = local.specs[name].topics.input
        min_tasks   = p.processor.min_count
      }
      output_topic                 = local.specs[name].topics.output
      firehose_stream              = module.delivery.stream_names[name]
      feature_writer_function      = module.lambdas.function_names["${name}-feature-writer"]
      feature_writer_failure_queue = module.lambdas.failure_queue_names.feature_writers[name]
      checks                       = local.specs[name].checks
    }
  }
  lambda_functions = {
    for k, name in module.lambdas.function_names : k => { function_name = name, timeout = module.lambdas.timeouts[k] }
  }
}
