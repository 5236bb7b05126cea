# The Glue Schema Registry of the pipelines whose spec reads Avro or Protobuf through Glue
# ([input.glue]):
# one registry per name the specs use, prefixed with the environment's name like every other
# resource (the processor and producer are told the prefixed name), and one schema per pipeline
# whose first version is the schema the spec implies (what the producer registers). BACKWARD
# compatibility: a new version must read what the previous one wrote, which is what the
# processor's reading by field name needs of a producer's next schema. DataFormat is AVRO or
# PROTOBUF, as the spec's input.format says (AWS Glue developer guide, "Creating a schema": a
# definition in Avro, JSON or Protobuf; the format cannot change once set).

resource "aws_glue_registry" "this" {
  for_each      = toset([for p in values(var.pipelines) : p.registry])
  registry_name = "${var.name}-${each.key}"
  description   = "Schemas of the ${var.name} pipelines' Avro and Protobuf input."
}

resource "aws_glue_schema" "this" {
  for_each          = var.pipelines
  schema_name       = each.value.schema
  registry_arn      = aws_glue_registry.this[each.value.registry].arn
  data_format       = each.value.data_format
  compatibility     = "BACKWARD"
  schema_definition = each.value.definition
  description       = "The ${each.key} pipeline's input events (config/pipelines/${each.key}.toml)."
}
