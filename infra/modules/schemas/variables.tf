variable "name" {
  description = "Prefix of the registries' names: <name>-<registry in the spec>."
  type        = string
}

variable "pipelines" {
  description = "Each Avro-on-Glue pipeline: the registry and schema its spec names, and the schema's definition (infra/pipelines/<name>.json, input.avro_schema)."
  type = map(object({
    registry   = string
    schema     = string
    definition = string
  }))
}
