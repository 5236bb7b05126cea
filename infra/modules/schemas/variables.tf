variable "name" {
  description = "Prefix of the registries' names: <name>-<registry in the spec>."
  type        = string
}

variable "pipelines" {
  description = "Each pipeline whose spec reads Avro or Protobuf through Glue: the registry and schema its spec names, the schema's definition (infra/pipelines/<name>.json, input.schema_definition) and its Glue data format."
  type = map(object({
    registry    = string
    schema      = string
    definition  = string
    data_format = string
  }))
  validation {
    condition     = alltrue([for p in values(var.pipelines) : contains(["AVRO", "PROTOBUF"], p.data_format)])
    error_message = "data_format must be AVRO or PROTOBUF: the formats the processor reads."
  }
}
