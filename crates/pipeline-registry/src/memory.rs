//! A registry in memory, for `processor local`: the local producer registers its schema, the
//! local processor looks it up, with no registry service to install. It hands out ids in the
//! wire format the spec names (Glue version ids or Confluent ids), one subject.

use std::sync::{Arc, Mutex};

use pipeline_core::spec::SchemaVersion;
use pipeline_core::wire::{SchemaId, Wire};

use crate::{LookupError, Version};

#[derive(Debug, Clone)]
pub struct Memory {
    wire: Wire,
    versions: Arc<Mutex<Vec<(SchemaId, String)>>>,
}

impl Memory {
    pub fn new(wire: Wire) -> Self {
        Self {
            wire,
            versions: Arc::default(),
        }
    }

    fn versions(&self) -> std::sync::MutexGuard<'_, Vec<(SchemaId, String)>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.versions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn describe(&self) -> String {
        "the local run's registry (in memory)".to_owned()
    }

    pub fn schema(&self, id: SchemaId) -> Result<String, LookupError> {
        self.versions()
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, text)| text.clone())
            .ok_or_else(|| LookupError::Unknown(format!("{id} is not in {}", self.describe())))
    }

    pub fn version(&self, version: SchemaVersion) -> Result<Version, LookupError> {
        let versions = self.versions();
        let index = match version {
            SchemaVersion::Latest => versions.len().checked_sub(1),
            SchemaVersion::Number(n) => (n as usize).checked_sub(1),
        };
        index
            .and_then(|i| Some((i, versions.get(i)?)))
            .map(|(i, (id, text))| Version {
                id: *id,
                number: i as u32 + 1,
                schema: text.clone(),
            })
            .ok_or_else(|| {
                LookupError::Unknown(format!("{} has no version {version}", self.describe()))
            })
    }

    pub fn register(&self, schema: &str) -> SchemaId {
        let mut versions = self.versions();
        if let Some((id, _)) = versions.iter().find(|(_, text)| text == schema) {
            return *id;
        }
        let n = versions.len() as u32 + 1;
        let id = match self.wire {
            Wire::Confluent => SchemaId::Confluent(n),
            Wire::Glue => {
                let mut uuid = [0u8; 16];
                uuid[12..].copy_from_slice(&n.to_be_bytes());
                SchemaId::Glue(uuid)
            }
        };
        versions.push((id, schema.to_owned()));
        id
    }
}
