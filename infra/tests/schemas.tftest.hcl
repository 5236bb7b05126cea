# Avro input through the Glue Schema Registry, on the modules directly (no shipped spec reads
# Avro, so the stack itself plans none of this): the registry and schemas Terraform creates, and
# the least the processor and the producer are granted. The provider is mocked.

mock_provider "aws" {
  source = "./tests/mocks"
}

# The processor module's variables as the stack gives them, for one pipeline.
variables {
  pipeline           = "ticks"
  repository_url     = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sp-dev-processor"
  repository_arn     = "arn:aws:ecr:eu-west-1:123456789012:repository/sp-dev-processor"
  name               = "sp-dev-ticks"
  region             = "eu-west-1"
  kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  log_retention_days = 14
  subnet_ids         = ["subnet-1", "subnet-2"]
  security_group_id  = "sg-1"
  cluster_arn        = "arn:aws:kafka:eu-west-1:123456789012:cluster/sp-dev/00000000-0000-0000-0000-000000000000-s1"
  bootstrap_brokers  = "boot.example:9098"
  kafka_arn_pattern  = "arn:aws:kafka:eu-west-1:123456789012:%s/sp-dev/00000000-0000-0000-0000-000000000000-s1"
  input_topic        = "ticks"
  output_topic       = "aggregates"
  replay_topic       = "ticks.replay"
  dead_letter_topic  = "ticks.dlq"
  metrics_namespace  = "StreamingPipeline"
  image_tag          = "v1"
  cpu                = 256
  memory             = 512
  desired_count      = 1
  min_count          = 1
  max_count          = 2
  delivery           = "exactly-once"
  target_cpu         = 60
  target_lag         = 10000
  shutdown_seconds   = 25
  topics_ready       = "ok"
  glue_schema = {
    registry_name = "sp-dev-pipeline"
    registry_arn  = "arn:aws:glue:eu-west-1:123456789012:registry/sp-dev-pipeline"
    schema_arn    = "arn:aws:glue:eu-west-1:123456789012:schema/sp-dev-pipeline/ticks"
  }
}

run "one_registry_per_name_one_schema_per_pipeline_in_its_format" {
  module {
    source = "./modules/schemas"
  }
  variables {
    name = "sp-dev"
    pipelines = {
      ticks  = { registry = "pipeline", schema = "ticks", data_format = "AVRO", definition = "{\"type\":\"record\",\"name\":\"t\",\"fields\":[]}" }
      orders = { registry = "pipeline", schema = "orders", data_format = "PROTOBUF", definition = "syntax = \"proto3\";\nmessage Order {}\n" }
    }
  }
  assert {
    condition     = keys(aws_glue_registry.this) == ["pipeline"] && aws_glue_registry.this["pipeline"].registry_name == "sp-dev-pipeline"
    error_message = "One registry per name the specs use, prefixed with the environment's name."
  }
  assert {
    condition = alltrue([
      for p, s in aws_glue_schema.this : s.compatibility == "BACKWARD" && s.schema_name == p
    ]) && aws_glue_schema.this["ticks"].data_format == "AVRO" && aws_glue_schema.this["orders"].data_format == "PROTOBUF"
    error_message = "Each pipeline's schema is in its spec's format with BACKWARD compatibility, named as its spec says."
  }
  assert {
    condition     = output.schemas["ticks"].registry_name == "sp-dev-pipeline"
    error_message = "The processor and producer are told the registry's name as created."
  }
}

run "the_processor_reads_schema_versions_and_nothing_else_of_glue" {
  module {
    source = "./modules/processor"
  }
  assert {
    condition = [
      for s in jsondecode(output.iam_policies.processor_task).Statement : s
      if anytrue([for a in flatten([s.Action]) : startswith(a, "glue:")])
      ] == [{
        Sid      = "ReadSchemaVersions"
        Effect   = "Allow"
        Action   = ["glue:GetSchemaVersion"]
        Resource = ["*"]
    }]
    error_message = "The processor's only Glue grant is GetSchemaVersion (on \"*\", the one resource Glue authorises a lookup by version id against)."
  }
  assert {
    condition     = contains(output.task.container.environment, { name = "GLUE_REGISTRY_NAME", value = "sp-dev-pipeline" })
    error_message = "The processor is told the registry's name as created."
  }
}

run "a_json_pipeline_is_granted_nothing_of_glue" {
  module {
    source = "./modules/processor"
  }
  variables {
    glue_schema = null
  }
  assert {
    condition = !anytrue(flatten([
      for s in jsondecode(output.iam_policies.processor_task).Statement : [for a in flatten([s.Action]) : startswith(a, "glue:")]
    ]))
    error_message = "A JSON pipeline's processor is granted nothing of Glue."
  }
}

run "the_producer_registers_in_its_registry_and_schema_only" {
  module {
    source = "./modules/lambdas"
  }
  variables {
    name              = "sp-dev"
    environment       = "dev"
    package_dir       = "../target/lambda"
    subnet_ids        = ["subnet-1", "subnet-2"]
    security_group_id = "sg-1"
    account_id        = "123456789012"
    pipelines = {
      ticks = {
        input_topic        = "ticks"
        output_topic       = "aggregates"
        feature_group_name = "sp-dev-ticks"
        feature_group_arn  = "arn:aws:sagemaker:eu-west-1:123456789012:feature-group/sp-dev-ticks"
        glue_schema        = var.glue_schema
        producer           = { enabled = true, events_per_invocation = 60, malformed_share = 0 }
        feature_writer     = { batch_size = 100, batching_seconds = 5, concurrency = 2, reserved_concurrency = 3 }
        checker            = { freshness_seconds = 300, watch_keys = [] }
      }
    }
  }
  assert {
    condition = [
      for s in jsondecode(output.iam_policies["ticks-producer"]).Statement : s
      if anytrue([for a in flatten([s.Action]) : startswith(a, "glue:")])
      ] == [
      {
        Sid      = "RegisterTheSchema"
        Effect   = "Allow"
        Action   = ["glue:GetSchemaByDefinition", "glue:RegisterSchemaVersion"]
        Resource = [var.glue_schema.registry_arn, var.glue_schema.schema_arn]
      },
      {
        Sid      = "ReadSchemaVersions"
        Effect   = "Allow"
        Action   = ["glue:GetSchemaVersion"]
        Resource = ["*"]
      },
    ]
    error_message = "The producer may find or register versions of its own schema, and read versions; nothing else of Glue."
  }
  assert {
    condition     = output.environments["ticks-producer"].GLUE_REGISTRY_NAME == "sp-dev-pipeline"
    error_message = "The producer is told the registry's name as created."
  }
  assert {
    condition = !anytrue(flatten([
      for name, policy in output.iam_policies : [
        for s in jsondecode(policy).Statement : [for a in flatten([s.Action]) : startswith(a, "glue:")]
      ] if name != "ticks-producer"
    ]))
    error_message = "No other function is granted anything of Glue."
  }
}
