//! Avro bodies: a writer's schema compiled against the spec, and the reader that walks a body
//! with it, handing each declared field's value to the same checks as JSON.
//!
//! `apache-avro` parses the schema text (and writes Avro in the producer and the tests); the
//! body is read here. `apache-avro`'s reader builds a `Value` tree per record, a `String` per
//! field name and value included, which costs more than the rest of the pipeline together
//! (`cargo bench -p pipeline-core --bench core`, docs/benchmarks.md); this reader borrows
//! strings from the record and skips undeclared fields without building them. A differential
//! test and a fuzz target hold it to `apache-avro`'s verdicts.
//!
//! Schema evolution is Avro's resolution by field name: a record written with any version is
//! read with that version's own schema (named by its header), its fields matched to the
//! spec's by name; fields the spec does not declare are skipped, declared fields the writer
//! lacks are absent (a dead letter `missing_field` if required).

use std::borrow::Cow;
use std::collections::HashMap;

use apache_avro::Schema;

use crate::json::Json;
use crate::spec::{FieldKind, FieldSpec};

mod encode;
pub use encode::{Encoder, Framer};

/// How to read one value of the writer's schema.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Null,
    Boolean,
    Int(Unit),
    Long(Unit),
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    /// A decimal's unscaled two's-complement bytes (`bytes`, or `fixed` of that size).
    Decimal {
        scale: u32,
        fixed: Option<usize>,
    },
    Enum(Vec<String>),
    Union(Vec<Ty>),
    Record(Vec<Ty>),
    Array(Box<Ty>),
    Map(Box<Ty>),
}

/// What an `int` or `long` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Plain,
    Days,
    Millis,
    Micros,
    Nanos,
}

/// A writer's schema, compiled for the spec's fields.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The top-level record's fields in writer order, each with the spec field it feeds.
    fields: Vec<(Option<usize>, Ty)>,
}

/// The most items a body's arrays and maps may hold in all when an item can take no bytes
/// (an array of nulls): a bound on the work a small record can ask for.
const MAX_EMPTY_ITEMS: u64 = 65_536;

impl Reader {
    /// Compiles `schema` (Avro's JSON schema text) for the spec's `fields`, leniently: what a
    /// record written with an older or newer version needs. The top level must be a record.
    pub fn compile(schema: &str, fields: &[FieldSpec]) -> Result<Self, String> {
        let parsed =
            Schema::parse_str(schema).map_err(|e| format!("not a valid Avro schema: {e}"))?;
        let mut names = HashMap::new();
        collect_names(&parsed, &mut names);
        let Schema::Record(record) = &parsed else {
            return Err(format!(
                "the schema's top level is {}, not a record",
                describe_schema(&parsed)
            ));
        };
        let mut out = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            let ty = compile_ty(&field.schema, &names, 0)?;
            let target = fields.iter().position(|f| f.name == field.name);
            out.push((target, ty));
        }
        Ok(Self { fields: out })
    }

    /// [`Reader::compile`], then the start-time check: every field the spec declares is in the
    /// schema, with a type its checks accept. One line per field that is not.
    pub fn compile_strict(schema: &str, fields: &[FieldSpec]) -> Result<Self, Vec<String>> {
        let reader = Self::compile(schema, fields).map_err(|e| vec![e])?;
        let mut problems = Vec::new();
        for (i, field) in fields.iter().enumerate() {
            match reader.fields.iter().find(|(t, _)| *t == Some(i)) {
                None => problems.push(format!(
                    "{}: the spec declares it; the schema has no such field",
                    field.name
                )),
                Some((_, ty)) if !accepts(&field.kind, ty) => problems.push(format!(
                    "{}: the schema has {}; the spec's {} needs {}",
                    field.name,
                    ty.describe(),
                    kind_name(&field.kind),
                    wanted(&field.kind)
                )),
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            Ok(reader)
        } else {
            Err(problems)
        }
    }

    /// Reads one body, handing `take` each declared field's value (spec field index, value).
    /// Strings are borrowed from `body` unless `copy_strings` (a body inflated into a scratch
    /// buffer, which the event must not point into).
    pub fn read<'a>(
        &self,
        body: &'a [u8],
        copy_strings: bool,
        mut take: impl FnMut(usize, Json<'a>),
    ) -> Result<(), String> {
        let mut cursor = Cursor {
            bytes: body,
            at: 0,
            empty_items: 0,
            copy_strings,
        };
        for (target, ty) in &self.fields {
            match target {
                Some(i) => take(*i, cursor.value(ty)?),
                None => cursor.skip(ty)?,
            }
        }
        if cursor.at != body.len() {
            return Err(format!(
                "{} bytes follow the record's last field",
                body.len() - cursor.at
            ));
        }
        Ok(())
    }
}

fn collect_names<'s>(schema: &'s Schema, names: &mut HashMap<String, &'s Schema>) {
    let mut add = |name: &apache_avro::schema::Name| {
        names.insert(name.fullname(None), schema);
        names.entry(name.name.clone()).or_insert(schema);
    };
    match schema {
        Schema::Record(r) => {
            add(&r.name);
            for f in &r.fields {
                collect_names(&f.schema, names);
            }
        }
        Schema::Enum(e) => add(&e.name),
        Schema::Fixed(f) => add(&f.name),
        Schema::Decimal(d) => collect_names(&d.inner, names),
        Schema::Array(a) => collect_names(&a.items, names),
        Schema::Map(m) => collect_names(&m.types, names),
        Schema::Union(u) => {
            for v in u.variants() {
                collect_names(v, names);
            }
        }
        _ => {}
    }
}

/// Deeper than this, a schema is refused (a recursive type refers to itself without end).
const MAX_DEPTH: usize = 32;

fn compile_ty(
    schema: &Schema,
    names: &HashMap<String, &Schema>,
    depth: usize,
) -> Result<Ty, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the schema nests deeper than {MAX_DEPTH} levels (a recursive type?)"
        ));
    }
    let nested = |s: &Schema| compile_ty(s, names, depth + 1);
    Ok(match schema {
        Schema::Null => Ty::Null,
        Schema::Boolean => Ty::Boolean,
        Schema::Int | Schema::TimeMillis => Ty::Int(Unit::Plain),
        Schema::Date => Ty::Int(Unit::Days),
        Schema::Long | Schema::TimeMicros => Ty::Long(Unit::Plain),
        Schema::TimestampMillis | Schema::LocalTimestampMillis => Ty::Long(Unit::Millis),
        Schema::TimestampMicros | Schema::LocalTimestampMicros => Ty::Long(Unit::Micros),
        Schema::TimestampNanos | Schema::LocalTimestampNanos => Ty::Long(Unit::Nanos),
        Schema::Float => Ty::Float,
        Schema::Double => Ty::Double,
        Schema::Bytes | Schema::BigDecimal => Ty::Bytes,
        Schema::String | Schema::Uuid => Ty::String,
        Schema::Fixed(f) => Ty::Fixed(f.size),
        Schema::Duration => Ty::Fixed(12),
        Schema::Decimal(d) => Ty::Decimal {
            scale: u32::try_from(d.scale).map_err(|_| "a decimal scale beyond 2^32".to_owned())?,
            fixed: match d.inner.as_ref() {
                Schema::Fixed(f) => Some(f.size),
                _ => None,
            },
        },
        Schema::Enum(e) => Ty::Enum(e.symbols.clone()),
        Schema::Union(u) => Ty::Union(u.variants().iter().map(nested).collect::<Result<_, _>>()?),
        Schema::Record(r) => Ty::Record(
            r.fields
                .iter()
                .map(|f| nested(&f.schema))
                .collect::<Result<_, _>>()?,
        ),
        Schema::Array(a) => Ty::Array(Box::new(nested(&a.items)?)),
        Schema::Map(m) => Ty::Map(Box::new(nested(&m.types)?)),
        Schema::Ref { name } => {
            let target = names
                .get(&name.fullname(None))
                .or_else(|| names.get(&name.name))
                .ok_or_else(|| format!("the schema refers to an undefined type {}", name.name))?;
            nested(target)?
        }
    })
}

fn describe_schema(schema: &Schema) -> &'static str {
    match schema {
        Schema::Record(_) => "a record",
        Schema::Union(_) => "a union",
        Schema::Array(_) => "an array",
        Schema::Map(_) => "a map",
        Schema::Enum(_) => "an enum",
        _ => "a primitive type",
    }
}

impl Ty {
    fn describe(&self) -> String {
        match self {
            Ty::Null => "null".into(),
            Ty::Boolean => "boolean".into(),
            Ty::Int(Unit::Days) => "int (date)".into(),
            Ty::Int(_) => "int".into(),
            Ty::Long(Unit::Plain) => "long".into(),
            Ty::Long(Unit::Millis) => "long (timestamp-millis)".into(),
            Ty::Long(Unit::Micros) => "long (timestamp-micros)".into(),
            Ty::Long(_) => "long (timestamp-nanos)".into(),
            Ty::Float => "float".into(),
            Ty::Double => "double".into(),
            Ty::Bytes => "bytes".into(),
            Ty::String => "string".into(),
            Ty::Fixed(n) => format!("fixed({n})"),
            Ty::Decimal { scale, .. } => format!("decimal (scale {scale})"),
            Ty::Enum(_) => "enum".into(),
            Ty::Union(v) => format!(
                "union [{}]",
                v.iter().map(Ty::describe).collect::<Vec<_>>().join(", ")
            ),
            Ty::Record(_) => "record".into(),
            Ty::Array(_) => "array".into(),
            Ty::Map(_) => "map".into(),
        }
    }

    /// The fewest bytes one value takes.
    fn min_len(&self) -> usize {
        match self {
            Ty::Null => 0,
            Ty::Fixed(n) | Ty::Decimal { fixed: Some(n), .. } => *n,
            Ty::Record(fields) => fields.iter().map(Ty::min_len).sum(),
            _ => 1,
        }
    }
}

fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::String { .. } => "string",
        FieldKind::Integer { .. } => "integer",
        FieldKind::Decimal { .. } => "decimal",
        FieldKind::Timestamp => "timestamp",
        FieldKind::Boolean => "boolean",
    }
}

fn wanted(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::String { .. } => "string, enum or uuid",
        FieldKind::Integer { .. } => "int or long",
        FieldKind::Decimal { .. } => {
            "int, long, float, double or decimal with a scale no larger than the spec's"
        }
        FieldKind::Timestamp => {
            "long (epoch ms, or a timestamp logical type), date or string (RFC 3339)"
        }
        FieldKind::Boolean => "boolean",
    }
}

/// Whether a value of `ty` can pass the checks of a field of `kind` (a union: every branch
/// but null can).
fn accepts(kind: &FieldKind, ty: &Ty) -> bool {
    if let Ty::Union(branches) = ty {
        return branches.iter().any(|b| *b != Ty::Null)
            && branches.iter().all(|b| *b == Ty::Null || accepts(kind, b));
    }
    match kind {
        FieldKind::String { .. } => matches!(ty, Ty::String | Ty::Enum(_)),
        FieldKind::Integer { .. } => matches!(ty, Ty::Int(Unit::Plain) | Ty::Long(Unit::Plain)),
        FieldKind::Decimal { scale, .. } => match ty {
            Ty::Int(Unit::Plain) | Ty::Long(Unit::Plain) | Ty::Float | Ty::Double => true,
            Ty::Decimal { scale: s, .. } => s <= scale,
            _ => false,
        },
        FieldKind::Timestamp => matches!(ty, Ty::Int(Unit::Days) | Ty::Long(_) | Ty::String),
        FieldKind::Boolean => *ty == Ty::Boolean,
    }
}

/// A position in a body.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    empty_items: u64,
    copy_strings: bool,
}

impl<'a> Cursor<'a> {
    fn end(&self, what: &str) -> String {
        format!("the body ends inside {what} at byte {}", self.at)
    }

    /// A zig-zag varint of at most `max_bytes` bytes.
    fn varint(&mut self, max_bytes: usize, what: &str) -> Result<i64, String> {
        let mut raw = 0u64;
        for i in 0..max_bytes {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(self.end(what));
            };
            self.at += 1;
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        Err(format!(
            "{what} at byte {} runs past {max_bytes} bytes",
            self.at
        ))
    }

    fn long(&mut self) -> Result<i64, String> {
        self.varint(10, "a long")
    }

    fn int(&mut self) -> Result<i64, String> {
        let at = self.at;
        let v = self.varint(5, "an int")?;
        if i32::try_from(v).is_err() {
            return Err(format!("the int at byte {at} does not fit 32 bits"));
        }
        Ok(v)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let slice = self
            .bytes
            .get(self.at..self.at.saturating_add(n))
            .ok_or_else(|| self.end(what))?;
        self.at += n;
        Ok(slice)
    }

    fn len_prefixed(&mut self, what: &str) -> Result<&'a [u8], String> {
        let at = self.at;
        let len = self.long()?;
        let len =
            usize::try_from(len).map_err(|_| format!("{what} at byte {at} has length {len}"))?;
        self.take(len, what)
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let at = self.at;
        let bytes = self.len_prefixed("a string")?;
        std::str::from_utf8(bytes).map_err(|_| format!("the string at byte {at} is not UTF-8"))
    }

    fn index(&mut self, n: usize, what: &str) -> Result<usize, String> {
        let at = self.at;
        let i = if what == "an enum" {
            self.int()?
        } else {
            self.long()?
        };
        usize::try_from(i)
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| format!("{what} index {i} at byte {at}; the schema has {n} branches"))
    }

    /// The value as the checks see it.
    fn value(&mut self, ty: &Ty) -> Result<Json<'a>, String> {
        Ok(match ty {
            Ty::Null => Json::Null,
            Ty::Boolean => match self.take(1, "a boolean")?[0] {
                0 => Json::Bool(false),
                1 => Json::Bool(true),
                b => return Err(format!("boolean byte 0x{b:02x} at byte {}", self.at - 1)),
            },
            Ty::Int(unit) => {
                let v = self.int()?;
                timed(*unit, v)
            }
            Ty::Long(unit) => {
                let v = self.long()?;
                timed(*unit, v)
            }
            Ty::Float => {
                let b = self.take(4, "a float")?;
                Json::Float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            Ty::Double => {
                let b = self.take(8, "a double")?;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(b);
                Json::Float(f64::from_le_bytes(raw))
            }
            Ty::String => {
                let s = self.str()?;
                Json::Str(if self.copy_strings {
                    Cow::Owned(s.to_owned())
                } else {
                    Cow::Borrowed(s)
                })
            }
            Ty::Enum(symbols) => {
                let i = self.index(symbols.len(), "an enum")?;
                Json::Str(Cow::Owned(symbols[i].clone()))
            }
            Ty::Decimal { scale, fixed } => {
                let at = self.at;
                let bytes = match fixed {
                    Some(n) => self.take(*n, "a decimal")?,
                    None => self.len_prefixed("a decimal")?,
                };
                match two_complement(bytes) {
                    Some(units) => Json::Units(units, *scale),
                    None => {
                        return Err(format!(
                            "the decimal at byte {at} has {} bytes; at most 16 are read",
                            bytes.len()
                        ));
                    }
                }
            }
            Ty::Union(branches) => {
                let i = self.index(branches.len(), "a union")?;
                return self.value(&branches[i]);
            }
            Ty::Bytes | Ty::Fixed(_) | Ty::Record(_) | Ty::Array(_) | Ty::Map(_) => {
                self.skip(ty)?;
                match ty {
                    Ty::Record(_) | Ty::Map(_) => Json::Object,
                    Ty::Array(_) => Json::Array,
                    _ => Json::Bytes,
                }
            }
        })
    }

    /// Steps over a value.
    fn skip(&mut self, ty: &Ty) -> Result<(), String> {
        match ty {
            Ty::Null => {}
            Ty::Boolean => {
                self.value(ty)?;
            }
            Ty::Int(_) | Ty::Enum(_) => {
                self.int()?;
            }
            Ty::Long(_) => {
                self.long()?;
            }
            Ty::Float => {
                self.take(4, "a float")?;
            }
            Ty::Double => {
                self.take(8, "a double")?;
            }
            Ty::Bytes | Ty::Decimal { fixed: None, .. } => {
                self.len_prefixed("bytes")?;
            }
            Ty::String => {
                self.str()?;
            }
            Ty::Fixed(n) | Ty::Decimal { fixed: Some(n), .. } => {
                self.take(*n, "a fixed")?;
            }
            Ty::Union(branches) => {
                let i = self.index(branches.len(), "a union")?;
                self.skip(&branches[i])?;
            }
            Ty::Record(fields) => {
                for f in fields {
                    self.skip(f)?;
                }
            }
            Ty::Array(item) => self.blocks(&[item])?,
            Ty::Map(value) => self.blocks(&[&Ty::String, value])?,
        }
        Ok(())
    }

    /// An array's or map's blocks: a count (negative: then its size in bytes), its items, until
    /// a count of 0.
    fn blocks(&mut self, item: &[&Ty]) -> Result<(), String> {
        let min_len: usize = item.iter().map(|t| t.min_len()).sum();
        loop {
            let at = self.at;
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                self.long()?;
            }
            let count = count.unsigned_abs();
            let room = (self.bytes.len() - self.at) as u64;
            if min_len == 0 {
                self.empty_items += count;
                if self.empty_items > MAX_EMPTY_ITEMS {
                    return Err(format!(
                        "the block at byte {at} brings the record past {MAX_EMPTY_ITEMS} empty items"
                    ));
                }
            } else if count > room / min_len as u64 {
                return Err(format!(
                    "the block at byte {at} counts {count} items; {room} bytes are left"
                ));
            }
            for _ in 0..count {
                for t in item {
                    self.skip(t)?;
                }
            }
        }
    }
}

/// An int or long of `unit`: a time in epoch ms, or a plain number.
fn timed(unit: Unit, v: i64) -> Json<'static> {
    match unit {
        Unit::Plain => Json::Int(v),
        Unit::Days => Json::Time(v.saturating_mul(86_400_000)),
        Unit::Millis => Json::Time(v),
        Unit::Micros => Json::Time(v.div_euclid(1_000)),
        Unit::Nanos => Json::Time(v.div_euclid(1_000_000)),
    }
}

/// Big-endian two's complement, up to 16 bytes.
fn two_complement(bytes: &[u8]) -> Option<i128> {
    if bytes.len() > 16 {
        return None;
    }
    if bytes.is_empty() {
        return Some(0);
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut raw = [if negative { 0xff } else { 0 }; 16];
    raw[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(raw))
}

#[cfg(test)]
mod tests;
