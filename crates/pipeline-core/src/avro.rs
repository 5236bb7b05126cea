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

use std::collections::HashMap;

use apache_avro::Schema;

use crate::json::Json;
use crate::spec::{FieldKind, FieldSpec};

mod cursor;
mod encode;
use cursor::Cursor;
pub use encode::Encoder;

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

pub(crate) fn kind_name(kind: &FieldKind) -> &'static str {
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

#[cfg(test)]
mod tests;
