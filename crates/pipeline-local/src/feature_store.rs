//! The local feature store: one SQLite file with the SageMaker Feature Store's two views of a
//! feature group, behind the same [`FeatureStore`] trait as the AWS client.
//!
//! - `online`: the latest record per record identifier. A record whose event time is older than
//!   the one held does not replace it (a late or replayed write cannot move a feature back in
//!   time); one with the same or a newer event time replaces the whole record, as `PutRecord`
//!   does.
//! - `offline`: every record written, with the offline store's `write_time`,
//!   `api_invocation_time` and `is_deleted` columns: the history a training job reads.
//!
//! Features are columns named after them (`INTEGER` for Integral, `REAL` for Fractional, `TEXT`
//! for String), so `sqlite3 feature-store.sqlite 'select * from online'` reads it. A write is
//! validated as the Feature Store validates `PutRecord`: the identifier and event time must be
//! there, every feature must be one of the group's and parse as its type; otherwise the write is
//! refused with a `ValidationException` and nothing is stored.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use pipeline_core::Spec;
use pipeline_core::features::{
    FeatureDefinition, FeatureRecord, FeatureType, event_time_feature, feature_definitions,
    record_identifier_feature,
};
use pipeline_core::store::{FeatureStore, ServiceError};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

#[derive(Debug, thiserror::Error)]
#[error("opening the local feature store {path}: {source}")]
pub struct OpenError {
    path: PathBuf,
    source: rusqlite::Error,
}

/// Row counts of the two views.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub online: u64,
    pub offline: u64,
}

/// One feature group in a SQLite file.
#[derive(Debug)]
pub struct SqliteFeatureStore {
    group: String,
    definitions: Vec<FeatureDefinition>,
    identifier: String,
    event_time: String,
    /// The statements that write a record: the online upsert, the offline append.
    upsert: String,
    append: String,
    connection: Mutex<Connection>,
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_type(feature_type: FeatureType) -> &'static str {
    match feature_type {
        FeatureType::Integral => "INTEGER",
        FeatureType::Fractional => "REAL",
        FeatureType::String => "TEXT",
    }
}

impl SqliteFeatureStore {
    /// Opens (or creates) the store at `path` for the feature group `group`, with the spec's
    /// feature definitions.
    pub fn open(path: &Path, spec: &Spec, group: &str) -> Result<Self, OpenError> {
        let error = |source| OpenError {
            path: path.to_owned(),
            source,
        };
        let connection = Connection::open(path).map_err(error)?;
        let definitions = feature_definitions(spec);
        let identifier = record_identifier_feature(spec).to_owned();
        let columns: Vec<String> = definitions
            .iter()
            .map(|d| format!("{} {}", quoted(&d.name), sql_type(d.feature_type)))
            .collect();
        let columns = columns.join(", ");
        connection
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 CREATE TABLE IF NOT EXISTS online ({columns}, event_time_ms INTEGER NOT NULL,
                     write_time TEXT NOT NULL, PRIMARY KEY ({}));
                 CREATE TABLE IF NOT EXISTS offline ({columns}, write_time TEXT NOT NULL,
                     api_invocation_time TEXT NOT NULL, is_deleted INTEGER NOT NULL DEFAULT 0);",
                quoted(&identifier)
            ))
            .map_err(error)?;
        let names: Vec<String> = definitions.iter().map(|d| quoted(&d.name)).collect();
        let marks = |n: usize| vec!["?"; n].join(", ");
        let updates: Vec<String> = names
            .iter()
            .chain([&"event_time_ms".to_owned(), &"write_time".to_owned()])
            .map(|name| format!("{name} = excluded.{name}"))
            .collect();
        let upsert = format!(
            "INSERT INTO online ({}, event_time_ms, write_time) VALUES ({})
             ON CONFLICT ({}) DO UPDATE SET {}
             WHERE excluded.event_time_ms >= online.event_time_ms",
            names.join(", "),
            marks(names.len() + 2),
            quoted(&identifier),
            updates.join(", ")
        );
        let append = format!(
            "INSERT INTO offline ({}, write_time, api_invocation_time) VALUES ({})",
            names.join(", "),
            marks(names.len() + 2)
        );
        Ok(Self {
            group: group.to_owned(),
            definitions,
            identifier,
            event_time: event_time_feature().to_owned(),
            upsert,
            append,
            connection: Mutex::new(connection),
        })
    }

    pub fn counts(&self) -> Result<StoreCounts, rusqlite::Error> {
        let connection = self.lock();
        let count = |table: &str| {
            connection.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get::<_, i64>(0)
            })
        };
        Ok(StoreCounts {
            online: count("online")? as u64,
            offline: count("offline")? as u64,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_group(&self, operation: &'static str, group: &str) -> Result<(), ServiceError> {
        if group == self.group {
            Ok(())
        } else {
            Err(ServiceError::Refused {
                operation,
                code: "ResourceNotFound".into(),
                message: format!(
                    "feature group {group} not found (this store holds {})",
                    self.group
                ),
            })
        }
    }

    /// The record's values in definition order, typed, and its event time in ms.
    fn validate(&self, record: &FeatureRecord) -> Result<(Vec<Value>, i64), String> {
        if let Some((name, _)) = record
            .values
            .iter()
            .find(|(name, _)| !self.definitions.iter().any(|d| &d.name == name))
        {
            return Err(format!(
                "feature `{name}` is not defined in the feature group"
            ));
        }
        let mut values = Vec::with_capacity(self.definitions.len());
        for definition in &self.definitions {
            let name = &definition.name;
            let value = match (record.get(name), definition.feature_type) {
                (None, _) => Value::Null,
                (Some(text), FeatureType::String) => Value::Text(text.to_owned()),
                (Some(text), FeatureType::Integral) => {
                    Value::Integer(text.parse().map_err(|_| {
                        format!("feature `{name}` is Integral, its value `{text}` is not")
                    })?)
                }
                (Some(text), FeatureType::Fractional) => {
                    let number: f64 = text.parse().map_err(|_| {
                        format!("feature `{name}` is Fractional, its value `{text}` is not")
                    })?;
                    Value::Real(number)
                }
            };
            values.push(value);
        }
        if record.get(&self.identifier).is_none_or(str::is_empty) {
            return Err(format!(
                "the record identifier `{}` is missing",
                self.identifier
            ));
        }
        let event_time = record
            .get(&self.event_time)
            .ok_or_else(|| format!("the event time `{}` is missing", self.event_time))?;
        let event_time_ms = DateTime::parse_from_rfc3339(event_time)
            .map_err(|_| {
                format!(
                    "the event time `{}` is `{event_time}`, not an ISO-8601 time",
                    self.event_time
                )
            })?
            .timestamp_millis();
        Ok((values, event_time_ms))
    }

    fn write(&self, values: Vec<Value>, event_time_ms: i64) -> Result<(), rusqlite::Error> {
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        // Prepared once per connection, not once per record.
        transaction
            .prepare_cached(&self.upsert)?
            .execute(params_from_iter(values.iter().cloned().chain([
                Value::Integer(event_time_ms),
                Value::Text(now.clone()),
            ])))?;
        transaction
            .prepare_cached(&self.append)?
            .execute(params_from_iter(
                values
                    .into_iter()
                    .chain([Value::Text(now.clone()), Value::Text(now)]),
            ))?;
        transaction.commit()
    }

    fn read(
        &self,
        identifiers: &[String],
    ) -> Result<Vec<(String, FeatureRecord)>, rusqlite::Error> {
        let names: Vec<String> = self.definitions.iter().map(|d| quoted(&d.name)).collect();
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {} FROM online WHERE {} = ?",
            names.join(", "),
            quoted(&self.identifier)
        ))?;
        let mut found = Vec::new();
        for identifier in identifiers {
            let mut rows = statement.query([identifier])?;
            if let Some(row) = rows.next()? {
                let mut record = FeatureRecord::default();
                for (index, definition) in self.definitions.iter().enumerate() {
                    let text = match row.get::<_, Value>(index)? {
                        Value::Null | Value::Blob(_) => continue,
                        Value::Integer(i) => i.to_string(),
                        Value::Real(r) => r.to_string(),
                        Value::Text(t) => t,
                    };
                    record.values.push((definition.name.clone(), text));
                }
                found.push((identifier.clone(), record));
            }
        }
        Ok(found)
    }
}

fn storage_error(operation: &'static str, error: &rusqlite::Error) -> ServiceError {
    ServiceError::Transient {
        operation,
        code: "InternalFailure".into(),
        message: format!("the local feature store: {error}"),
    }
}

impl FeatureStore for SqliteFeatureStore {
    async fn put_record(&self, group: &str, record: &FeatureRecord) -> Result<(), ServiceError> {
        self.check_group("PutRecord", group)?;
        let (values, event_time_ms) =
            self.validate(record)
                .map_err(|message| ServiceError::Refused {
                    operation: "PutRecord",
                    code: "ValidationException".into(),
                    message,
                })?;
        self.write(values, event_time_ms)
            .map_err(|e| storage_error("PutRecord", &e))
    }

    async fn get_records(
        &self,
        group: &str,
        identifiers: &[String],
    ) -> Result<Vec<(String, FeatureRecord)>, ServiceError> {
        self.check_group("BatchGetRecord", group)?;
        self.read(identifiers)
            .map_err(|e| storage_error("BatchGetRecord", &e))
    }
}
