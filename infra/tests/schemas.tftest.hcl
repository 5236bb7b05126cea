# Avro input through the Glue Schema Registry, on the modules directly (no shipped spec reads
# Avro, so the stack itself plans none of this): the registry and schemas Terraform creates, and
# the least the processor and the producer are granted. The provider is mocked.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  glue_schema = {
    registry_name = "sp-dev-pipeline"
    registry_arn  = "arn:aws:glue:eu-west-1:123456789012:registry/sp-dev-pipeline"
    schema_arn    = "arn:aws:glue:eu-west-1:123456789012:schema/sp-dev-pipeline/ticks"
  }
}

run "one_registry_per_name_one_avro_schema_per_pipeline" {
  module {
    source = "./modules/schemas"
  }
  variables {
    name = "sp-dev"
    pipelines = {
      ticks  = { registry = "pipeline", schema = "ticks", definition = "{\"type\":\"record\",\"name\":\"t\",\"fields\":[]}" }
      orders = { registry = "pipeline", schema = "orders", definition = "{\"type\":\"record\",\"name\":\"o\",\"fields\":[]}" }
    }
  }
  assert {
    condition     = keys(aws_glue_registry.this) == ["pipeline"] && aws_glue_registry.this["pipeline"].registry_name == "sp-dev-pipeline"
    error_message = "One registry per name the specs use, prefixed with the environment's name."
  }
  assert {
    condition = alltrue([
      for p, s in aws_glue_schema.this : s.data_format == "AVRO" && s.compatibility == "BACKWARD" && s.schema_name == p
    ])
    error_message = "Each pipeline's schema is Avro with BACKWARD compatibility, named as its spec says."
  }
  assert {
    condition     = output.schemas["ticks"].registry_name == "sp-dev-pipeline"
    error_message = "The processor and producer are told the registry's name as created."
  }
}

# The processor module with the variables the stack gives it, for one pipeline.
run "the_processor_reads_schema_versions_and_nothing_else_of_glue" {
  module {
    source = "./modules/processor"
  }
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
    glue_schema        = null
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
  }
  assert {
    condition = !anytrue(flatten([
      for s in jsondecode(output.iam_policies.processor_task).Statement : [for a in flatten([s.Action]) : startswith(a, "glue:")]
    ]))
    error_message = "A JSON pipeline's processor is granted nothing of Glue."
  }
}
