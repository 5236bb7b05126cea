//! The local data lake: aggregates as Parquet files laid out the way the Firehose stream writes
//! the S3 lake. The same columns and types as the Glue table (both come from
//! [`pipeline_core::catalog`]), Snappy-compressed, under `<table>/year=YYYY/month=MM/day=DD/` by
//! the date of each aggregate's event time (`window_end`), and each partition's buffer rolled
//! into a file when it holds [`LakeConfig::buffer_bytes`] of input or has been open for
//! [`LakeConfig::buffer_interval`], as Firehose buffering does; what is buffered is written on
//! [`ParquetLake::finish`].
//!
//! A file is written whole and made durable (written to a temporary name, synced, renamed,
//! its folder synced) before it counts. A consumer that feeds the lake from Kafka tags each
//! record with where it came from ([`ParquetLake::push_from`]) and asks
//! [`ParquetLake::unwritten_from`] which offsets it may commit: never one past a record that is
//! still only in memory.
//!
//! As Firehose's JSON deserializer does, a record reads its columns by name: a missing column or
//! a JSON `null` is a null, a key the table does not have is ignored. A record that cannot be
//! converted (a value of the wrong type, a decimal with more places than its column, no event
//! time to partition by) is not dropped: it goes to `errors/<kind>/` as one JSON line holding
//! the error and the original bytes in base64, as Firehose's error output prefix does.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use base64::Engine as _;
use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use pipeline_core::catalog::{DECIMAL_PRECISION, PARTITION_KEYS};
use pipeline_core::features::event_time_feature;
use pipeline_core::{ColumnType, Spec};
use serde_json::value::RawValue;

/// Where and how the lake is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeConfig {
    /// The bucket's stand-in: tables and `errors/` go under it.
    pub root: PathBuf,
    /// The Glue table's name, the first folder of every file.
    pub table: String,
    /// A partition's buffer is written once it holds this many bytes of input JSON.
    pub buffer_bytes: usize,
    /// ... or once its first record has waited this long.
    pub buffer_interval: Duration,
}

impl LakeConfig {
    /// Firehose's defaults for a stream that converts to Parquet: 64 MiB or 60 s.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            table: "aggregates".into(),
            buffer_bytes: 64 * 1024 * 1024,
            buffer_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing Parquet to {path}: {source}")]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("building the columns of {path}: {source}")]
    Arrow { path: PathBuf, source: ArrowError },
}

/// Why a record was sent to the error output, and under which folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionError {
    /// `format-conversion-failed` or `partitioning-failed`, Firehose's error output types.
    pub kind: &'static str,
    pub message: String,
}

/// What the lake has written so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeReport {
    /// Parquet files, in the order written.
    pub files: Vec<PathBuf>,
    pub rows: u64,
    /// Records sent to `errors/` instead.
    pub errors: u64,
}

/// One column as the lake reads and writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Timestamp,
    Date,
    Integer,
    Decimal { scale: u32 },
    Boolean,
}

impl From<ColumnType> for Kind {
    fn from(column_type: ColumnType) -> Self {
        match column_type {
            ColumnType::String => Self::Text,
            ColumnType::Timestamp => Self::Timestamp,
            ColumnType::Date => Self::Date,
            ColumnType::Integer => Self::Integer,
            ColumnType::Decimal { scale } => Self::Decimal { scale },
            ColumnType::Boolean => Self::Boolean,
        }
    }
}

/// The Arrow (and so Parquet) type of each spec column type: the Glue types of
/// [`pipeline_core::catalog::glue_type`] (`string`, `timestamp`, `date`, `bigint`,
/// `decimal(38,s)`, `boolean`).
pub fn arrow_type(column_type: ColumnType) -> DataType {
    match column_type {
        ColumnType::String => DataType::Utf8,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ColumnType::Date => DataType::Date32,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Decimal { scale } => DataType::Decimal128(DECIMAL_PRECISION as u8, scale as i8),
        ColumnType::Boolean => DataType::Boolean,
    }
}

/// The files' schema: every output column of the spec, nullable, in order (the partition keys
/// are in the path, as in the Glue table).
pub fn arrow_schema(spec: &Spec) -> Schema {
    Schema::new(
        spec.output_columns()
            .into_iter()
            .map(|column| Field::new(column.name, arrow_type(column.column_type), true))
            .collect::<Vec<_>>(),
    )
}

/// A parsed cell.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Text(String),
    Millis(i64),
    Days(i32),
    Integer(i64),
    Decimal(i128),
    Boolean(bool),
}

enum Builder {
    Text(StringBuilder),
    Timestamp(TimestampMillisecondBuilder),
    Date(Date32Builder),
    Integer(Int64Builder),
    Decimal(Decimal128Builder),
    Boolean(BooleanBuilder),
}

impl Builder {
    fn new(kind: Kind) -> Result<Self, ArrowError> {
        Ok(match kind {
            Kind::Text => Self::Text(StringBuilder::new()),
            Kind::Timestamp => {
                Self::Timestamp(TimestampMillisecondBuilder::new().with_timezone("UTC"))
            }
            Kind::Date => Self::Date(Date32Builder::new()),
            Kind::Integer => Self::Integer(Int64Builder::new()),
            Kind::Decimal { scale } => Self::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(DECIMAL_PRECISION as u8, scale as i8)?,
            ),
            Kind::Boolean => Self::Boolean(BooleanBuilder::new()),
        })
    }

    /// Appends a cell parsed for this column's kind.
    fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (Self::Text(b), Cell::Text(v)) => b.append_value(v),
            (Self::Timestamp(b), Cell::Millis(v)) => b.append_value(v),
            (Self::Date(b), Cell::Days(v)) => b.append_value(v),
            (Self::Integer(b), Cell::Integer(v)) => b.append_value(v),
            (Self::Decimal(b), Cell::Decimal(v)) => b.append_value(v),
            (Self::Boolean(b), Cell::Boolean(v)) => b.append_value(v),
            (Self::Text(b), _) => b.append_null(),
            (Self::Timestamp(b), _) => b.append_null(),
            (Self::Date(b), _) => b.append_null(),
            (Self::Integer(b), _) => b.append_null(),
            (Self::Decimal(b), _) => b.append_null(),
            (Self::Boolean(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Text(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Integer(b) => Arc::new(b.finish()),
            Self::Decimal(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
        }
    }
}

/// Where a record came from: a partition of the topic the lake is fed from, and its offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub partition: i32,
    pub offset: i64,
}

/// The rows waiting for one partition's next file.
struct Buffer {
    builders: Vec<Builder>,
    rows: usize,
    bytes: usize,
    opened: Instant,
    /// The first (lowest) offset buffered here from each source partition.
    first_from: BTreeMap<i32, i64>,
}

/// Aggregates in, Parquet files out. Not thread-safe by itself: one writer owns it.
pub struct ParquetLake {
    config: LakeConfig,
    schema: SchemaRef,
    columns: Vec<(String, Kind)>,
    /// Where the event time is among `columns`.
    event_time: usize,
    buffers: BTreeMap<String, Buffer>,
    report: LakeReport,
    sequence: u64,
}

impl std::fmt::Debug for ParquetLake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetLake")
            .field("config", &self.config)
            .field("buffered_partitions", &self.buffers.len())
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl ParquetLake {
    pub fn new(spec: &Spec, config: LakeConfig) -> Self {
        let columns: Vec<(String, Kind)> = spec
            .output_columns()
            .into_iter()
            .map(|c| (c.name, Kind::from(c.column_type)))
            .collect();
        let event_time = columns
            .iter()
            .position(|(name, _)| name == event_time_feature())
            .unwrap_or_default();
        Self {
            schema: Arc::new(arrow_schema(spec)),
            config,
            columns,
            event_time,
            buffers: BTreeMap::new(),
            report: LakeReport::default(),
            sequence: 0,
        }
    }

    /// The folder of the table's files.
    pub fn table_dir(&self) -> PathBuf {
        self.config.root.join(&self.config.table)
    }

    pub fn report(&self) -> &LakeReport {
        &self.report
    }

    /// Adds one aggregate (its JSON), writing its partition's file if the buffer is full.
    pub fn push(&mut self, json: &[u8], now: Instant) -> Result<(), LakeError> {
        self.push_from(json, None, now)
    }

    /// [`ParquetLake::push`] for a record read from a topic: the lake remembers `source` until
    /// the record's file is written, for [`ParquetLake::unwritten_from`].
    pub fn push_from(
        &mut self,
        json: &[u8],
        source: Option<Source>,
        now: Instant,
    ) -> Result<(), LakeError> {
        let (partition, cells) = match self.convert(json) {
            Ok(converted) => converted,
            Err(error) => return self.write_error(json, &error),
        };
        let buffer = match self.buffers.entry(partition.clone()) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                let builders = self
                    .columns
                    .iter()
                    .map(|(_, kind)| Builder::new(*kind))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|source| LakeError::Arrow {
                        path: self.config.root.join(&self.config.table).join(&partition),
                        source,
                    })?;
                entry.insert(Buffer {
                    builders,
                    rows: 0,
                    bytes: 0,
                    opened: now,
                    first_from: BTreeMap::new(),
                })
            }
        };
        if let Some(source) = source {
            buffer
                .first_from
                .entry(source.partition)
                .or_insert(source.offset);
        }
        for (builder, cell) in buffer.builders.iter_mut().zip(cells) {
            builder.append(cell);
        }
        buffer.rows += 1;
        buffer.bytes += json.len();
        if buffer.bytes >= self.config.buffer_bytes {
            self.flush(&partition)?;
        }
        Ok(())
    }

    /// For each source partition with records still buffered, the offset of the first of them:
    /// everything before it is in written files (or the error output), so a consumer may
    /// commit up to it, and no further.
    pub fn unwritten_from(&self) -> BTreeMap<i32, i64> {
        let mut first = BTreeMap::new();
        for buffer in self.buffers.values() {
            for (partition, offset) in &buffer.first_from {
                first
                    .entry(*partition)
                    .and_modify(|o: &mut i64| *o = (*o).min(*offset))
                    .or_insert(*offset);
            }
        }
        first
    }

    /// Aggregates waiting in memory for their partition's next file.
    pub fn buffered_rows(&self) -> usize {
        self.buffers.values().map(|b| b.rows).sum()
    }

    /// Writes every buffered partition now (before a consumer gives up its partitions).
    pub fn flush_all(&mut self) -> Result<(), LakeError> {
        let partitions: Vec<String> = self.buffers.keys().cloned().collect();
        for partition in partitions {
            self.flush(&partition)?;
        }
        Ok(())
    }

    /// Writes the partitions whose first buffered record has waited the buffer interval.
    pub fn flush_due(&mut self, now: Instant) -> Result<(), LakeError> {
        let due: Vec<String> = self
            .buffers
            .iter()
            .filter(|(_, b)| now.saturating_duration_since(b.opened) >= self.config.buffer_interval)
            .map(|(p, _)| p.clone())
            .collect();
        for partition in due {
            self.flush(&partition)?;
        }
        Ok(())
    }

    /// Writes everything buffered and returns what the lake holds.
    pub fn finish(mut self) -> Result<LakeReport, LakeError> {
        self.flush_all()?;
        Ok(self.report)
    }

    fn flush(&mut self, partition: &str) -> Result<(), LakeError> {
        let Some(mut buffer) = self.buffers.remove(partition) else {
            return Ok(());
        };
        if buffer.rows == 0 {
            return Ok(());
        }
        let dir = self.table_dir().join(partition);
        fs::create_dir_all(&dir).map_err(|source| LakeError::Io {
            path: dir.clone(),
            source,
        })?;
        let columns: Vec<ArrayRef> = buffer.builders.iter_mut().map(Builder::finish).collect();
        let (path, file) = self.new_file(&dir)?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(|source| {
            LakeError::Arrow {
                path: path.clone(),
                source,
            }
        })?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let parquet = |source| LakeError::Parquet {
            path: path.clone(),
            source,
        };
        let mut writer = ArrowWriter::try_new(&file, Arc::clone(&self.schema), Some(properties))
            .map_err(parquet)?;
        writer.write(&batch).map_err(parquet)?;
        writer.close().map_err(parquet)?;
        // Durable before it counts: the bytes, then (after the rename) the folder's entry.
        file.sync_all().map_err(|source| LakeError::Io {
            path: path.clone(),
            source,
        })?;
        drop(file);
        // The file appears whole, as an S3 object does: `NAME.parquet.partial` → `NAME.parquet`.
        let final_path = path.with_extension("");
        fs::rename(&path, &final_path).map_err(|source| LakeError::Io {
            path: final_path.clone(),
            source,
        })?;
        sync_dir(&dir)?;
        self.report.rows += buffer.rows as u64;
        self.report.files.push(final_path);
        Ok(())
    }

    /// A new file in `dir`, named like Firehose's objects (table, time written, sequence), with
    /// a temporary extension until it is complete.
    fn new_file(&mut self, dir: &Path) -> Result<(PathBuf, File), LakeError> {
        let written = Utc::now().format("%Y-%m-%d-%H-%M-%S");
        loop {
            self.sequence += 1;
            let name = format!("{}-{written}-{:06}", self.config.table, self.sequence);
            let path = dir.join(format!("{name}.parquet.partial"));
            if dir.join(format!("{name}.parquet")).exists() {
                continue;
            }
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((path, file)),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(LakeError::Io { path, source }),
            }
        }
    }

    /// The record's partition path and its cells in column order.
    fn convert(&self, json: &[u8]) -> Result<(String, Vec<Cell>), ConversionError> {
        let failed = |message: String| ConversionError {
            kind: "format-conversion-failed",
            message,
        };
        let object: HashMap<String, &RawValue> =
            serde_json::from_slice(json).map_err(|e| failed(format!("not a JSON object: {e}")))?;
        let cells = self
            .columns
            .iter()
            .map(|(name, kind)| match object.get(name) {
                None => Ok(Cell::Null),
                Some(raw) => parse_cell(raw.get(), *kind).map_err(|expected| {
                    failed(format!(
                        "column `{name}`: expected {expected}, found {}",
                        raw.get()
                    ))
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Cell::Millis(event_time) = cells[self.event_time] else {
            return Err(ConversionError {
                kind: "partitioning-failed",
                message: format!("no `{}` to partition by", self.columns[self.event_time].0),
            });
        };
        Ok((partition_path(event_time), cells))
    }

    fn write_error(&mut self, json: &[u8], error: &ConversionError) -> Result<(), LakeError> {
        let dir = self.config.root.join("errors").join(error.kind);
        let path = dir.join(format!("{}-errors.jsonl", self.config.table));
        let io = |source| LakeError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(io)?;
        let line = serde_json::json!({
            "errorCode": error.kind,
            "errorMessage": error.message,
            "rawData": base64::engine::general_purpose::STANDARD.encode(json),
        });
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        writeln!(file, "{line}").map_err(io)?;
        file.sync_data().map_err(io)?;
        self.report.errors += 1;
        Ok(())
    }
}

/// Makes a folder's entries (a file just renamed into it) durable.
fn sync_dir(dir: &Path) -> Result<(), LakeError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| LakeError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// `year=YYYY/month=MM/day=DD`, the path the Firehose prefix builds from the event time.
fn partition_path(event_time_ms: i64) -> String {
    let date = DateTime::<Utc>::from_timestamp_millis(event_time_ms)
        .unwrap_or_default()
        .date_naive();
    let [year, month, day] = PARTITION_KEYS;
    format!(
        "{year}={:04}/{month}={:02}/{day}={:02}",
        date.year(),
        date.month(),
        date.day()
    )
}

/// Reads one JSON value for a column; on failure, what was expected.
fn parse_cell(raw: &str, kind: Kind) -> Result<Cell, String> {
    if raw == "null" {
        return Ok(Cell::Null);
    }
    let text = || serde_json::from_str::<String>(raw).map_err(|_| "a string".to_owned());
    match kind {
        Kind::Text => text().map(Cell::Text),
        Kind::Timestamp => {
            let expected = "a timestamp like 2026-11-21T14:31:00.000Z";
            let value = text().map_err(|_| expected.to_owned())?;
            NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S%.fZ")
                .map(|t| Cell::Millis(t.and_utc().timestamp_millis()))
                .map_err(|_| expected.to_owned())
        }
        Kind::Date => {
            let expected = "a date like 2026-11-21";
            let value = text().map_err(|_| expected.to_owned())?;
            let date =
                NaiveDate::parse_from_str(&value, "%Y-%m-%d").map_err(|_| expected.to_owned())?;
            Ok(Cell::Days((date - NaiveDate::default()).num_days() as i32))
        }
        Kind::Integer => raw
            .parse::<i64>()
            .map(Cell::Integer)
            .map_err(|_| "a whole number within 64 bits".to_owned()),
        Kind::Decimal { scale } => decimal_units(raw, scale).map(Cell::Decimal).ok_or_else(|| {
            format!("a number with at most {scale} decimal places and {DECIMAL_PRECISION} digits")
        }),
        Kind::Boolean => match raw {
            "true" => Ok(Cell::Boolean(true)),
            "false" => Ok(Cell::Boolean(false)),
            _ => Err("true or false".to_owned()),
        },
    }
}

/// A JSON number's exact value in units of `10^-scale`, if it has at most `scale` places and
/// fits the column's precision (no exponent: the aggregates never write one).
fn decimal_units(raw: &str, scale: u32) -> Option<i128> {
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if fraction.len() > scale as usize || whole.len() + scale as usize > DECIMAL_PRECISION as usize
    {
        return None;
    }
    let mut units: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        units = units * 10 + i128::from(b - b'0');
    }
    units *= 10_i128.pow(scale - fraction.len() as u32);
    Some(if negative { -units } else { units })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_exactly_with_the_column_scale() {
        assert_eq!(decimal_units("187.25", 4), Some(1_872_500));
        assert_eq!(decimal_units("-0.0001", 4), Some(-1));
        assert_eq!(decimal_units("12", 2), Some(1_200));
        assert_eq!(
            decimal_units("1.23456", 4),
            None,
            "more places than the scale"
        );
        assert_eq!(decimal_units("1e3", 4), None);
        assert_eq!(decimal_units(".5", 4), None);
        assert_eq!(decimal_units(&"9".repeat(35), 4), None, "over 38 digits");
        assert_eq!(
            decimal_units(&"9".repeat(34), 4),
            Some(10_i128.pow(38) - 10_000)
        );
    }

    #[test]
    fn the_partition_is_the_utc_date_of_the_event_time() {
        // 2026-11-21T23:59:59.999Z and a millisecond later.
        assert_eq!(
            partition_path(1_795_305_599_999),
            "year=2026/month=11/day=21"
        );
        assert_eq!(
            partition_path(1_795_305_600_000),
            "year=2026/month=11/day=22"
        );
    }

    #[test]
    fn cells_parse_by_column_kind() {
        assert_eq!(
            parse_cell("\"2026-11-21T14:31:00.000Z\"", Kind::Timestamp),
            Ok(Cell::Millis(1_795_271_460_000))
        );
        assert_eq!(parse_cell("\"1970-01-02\"", Kind::Date), Ok(Cell::Days(1)));
        assert_eq!(parse_cell("null", Kind::Integer), Ok(Cell::Null));
        assert!(parse_cell("3.5", Kind::Integer).is_err());
        assert!(parse_cell("3", Kind::Text).is_err());
        assert_eq!(parse_cell("true", Kind::Boolean), Ok(Cell::Boolean(true)));
        assert!(parse_cell("\"true\"", Kind::Boolean).is_err());
        assert!(parse_cell("\"14:31\"", Kind::Timestamp).is_err());
    }
}
