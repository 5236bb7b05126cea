//! Avro or Protobuf input at start: connect to the spec's schema registry, fetch the version the spec names
//! (the latest unless pinned) and check the spec's declared fields against it. A mismatch stops
//! the processor before it reads a record, naming the spec file, the schema version and each
//! field; records written with other versions are looked up as they arrive (see
//! `Engine::set_registry`).

use pipeline_core::Spec;
use pipeline_core::event::check_schema;
use pipeline_core::spec::InputFormat;
use pipeline_registry::{LookupError, Options, Resolver, Retry};

#[derive(Debug, thiserror::Error)]
pub enum RegistryStartError {
    #[error("schema registry: {0}")]
    Lookup(#[from] LookupError),
    #[error(
        "{spec_file} does not match {registry} version {number} (id {id}):\n  {}",
        problems.join("\n  ")
    )]
    Mismatch {
        spec_file: String,
        registry: String,
        number: u32,
        id: String,
        problems: Vec<String>,
    },
}

/// The registry of an Avro or Protobuf spec, checked; `None` for JSON input.
pub fn open(
    spec: &Spec,
    spec_file: &str,
    options: &Options,
) -> Result<Option<Resolver>, RegistryStartError> {
    let InputFormat::Registry(input) = &spec.input else {
        return Ok(None);
    };
    let mut resolver = Resolver::connect(
        &input.registry,
        input.schema_type,
        options,
        Retry::default(),
    )?;
    let version = resolver.version(input.version)?;
    if let Err(problems) = check_schema(input, &version.schema, &spec.event.fields) {
        return Err(RegistryStartError::Mismatch {
            spec_file: spec_file.to_owned(),
            registry: resolver.client().describe(),
            number: version.number,
            id: version.id.to_string(),
            problems,
        });
    }
    tracing::info!(
        registry = %resolver.client().describe(),
        version = version.number,
        id = %version.id,
        "the spec matches the registry's schema"
    );
    resolver.remember(&version);
    Ok(Some(resolver))
}
