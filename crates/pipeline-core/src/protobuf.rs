//! Protobuf bodies: a registry's `.proto` text compiled against the spec, and the reader that
//! walks a message, handing each declared field's value to the same checks as JSON.
//!
//! `protox` compiles the schema text (the well-known types, such as
//! `google/protobuf/timestamp.proto`, may be imported) and `prost-reflect` holds its
//! descriptors; the body is read here: a `DynamicMessage` per record builds every field, a
//! `String` per string included, and decoding one alone takes 84 % of the time this whole
//! core takes on a Protobuf tick (docs/benchmarks.md, "Protobuf input"). A property test and a
//! fuzz target hold this reader to `prost-reflect`'s verdicts and values.
//!
//! In front of the message, each registry's wire format names which of the schema's message
//! types it is: Glue an unsigned varint, the type's position among all the file's message
//! types (nested ones included) sorted by full name; Confluent a zig-zag varint count, then
//! that many zig-zag varints, the path to the type through the file's top-level and nested
//! types (a count of 0 alone meaning the first top-level type). A record of any type but the
//! event's is `malformed`.
//!
//! Schema evolution is Protobuf's: fields are matched to the spec's by name in the writer's
//! own schema version and read by number; fields the spec does not declare are skipped,
//! whatever their type. A singular field without presence (proto3's plain fields) reads as
//! its default when absent, as every Protobuf reader does; declare it `optional` to tell an
//! absent value from zero. A field repeated in one message keeps its last value; a
//! `google.protobuf.Timestamp` or wrapper repeated is merged field by field.

use std::collections::VecDeque;

use prost_reflect::{Cardinality, DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

use crate::json::Json;
use crate::spec::{FieldKind, FieldSpec};
use crate::wire::Wire;

mod encode;
mod walk;
pub use encode::ProtoEncoder;
use walk::Walk;

/// The file name the registry's schema text is compiled under.
const SCHEMA_FILE: &str = "registry.proto";

/// How to read one declared field.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Float,
    Double,
    Bool,
    String,
    Bytes,
    /// The enum's values (number, name).
    Enum(Vec<(i32, String)>),
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// A `google.protobuf` wrapper (`DoubleValue`, `StringValue`, ...): its field 1.
    Wrapper(Box<Ty>),
    /// Any other message.
    Message,
    List,
    Map,
}

/// A declared field the message has.
#[derive(Debug, Clone)]
struct Slot {
    /// The spec field it feeds.
    target: usize,
    ty: Ty,
    /// A singular field without presence: absent, it reads as its default.
    implicit: bool,
}

/// Field numbers below this are looked up in a table; above, by binary search.
const DENSE: u32 = 256;
/// `dense`'s mark of a number that is no declared field.
const NONE: u8 = u8::MAX;

/// A schema version compiled for the spec's fields: how to recognise the event's message type
/// in either wire format, and how to read it.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The event message's full name.
    message: String,
    /// Its Glue index.
    glue_index: u64,
    /// Its Confluent path.
    confluent_path: Vec<u64>,
    slots: Vec<Slot>,
    /// Slot by field number, for numbers below [`DENSE`].
    dense: Vec<u8>,
    /// (number, slot), sorted, for larger numbers.
    sparse: Vec<(u32, u8)>,
}

impl Reader {
    /// Compiles `schema` (`.proto` text) for the spec's `fields`, reading message type
    /// `message` (a full name), or the schema's only top-level message type when `None`.
    pub fn compile(
        schema: &str,
        message: Option<&str>,
        fields: &[FieldSpec],
    ) -> Result<Self, String> {
        let pool = descriptor_pool(schema)?;
        let file = pool
            .get_file_by_name(SCHEMA_FILE)
            .ok_or("the schema compiled to no file")?;
        let descriptor = match message {
            Some(name) => pool
                .get_message_by_name(name)
                .filter(|m| m.parent_file().name() == SCHEMA_FILE)
                .ok_or_else(|| {
                    format!(
                        "the schema has no message type {name}; it has {}",
                        names(file.messages())
                    )
                })?,
            None => {
                let mut top = file.messages();
                match (top.next(), top.len()) {
                    (Some(only), 0) => only,
                    (None, _) => return Err("the schema has no message type".to_owned()),
                    _ => {
                        return Err(format!(
                            "the schema has several top-level message types ({}); name the event's in input.message",
                            names(file.messages())
                        ));
                    }
                }
            }
        };
        let mut slots = Vec::new();
        for field in descriptor.fields() {
            if let Some(target) = fields.iter().position(|f| f.name == field.name()) {
                slots.push((
                    field.number(),
                    Slot {
                        target,
                        ty: field_ty(&field),
                        implicit: !field.supports_presence()
                            && field.cardinality() != Cardinality::Repeated,
                    },
                ));
            }
        }
        if slots.len() >= usize::from(NONE) {
            return Err(format!(
                "the message declares {} of the spec's fields; at most {} are read",
                slots.len(),
                NONE - 1
            ));
        }
        let mut dense = vec![NONE; DENSE as usize];
        let mut sparse = Vec::new();
        for (i, (number, _)) in slots.iter().enumerate() {
            if *number < DENSE {
                dense[*number as usize] = i as u8;
            } else {
                sparse.push((*number, i as u8));
            }
        }
        sparse.sort_unstable();
        Ok(Self {
            message: descriptor.full_name().to_owned(),
            glue_index: glue_index(&file, &descriptor),
            confluent_path: confluent_path(&file, &descriptor),
            slots: slots.into_iter().map(|(_, s)| s).collect(),
            dense,
            sparse,
        })
    }

    /// [`Reader::compile`], then the start-time check: every field the spec declares is in the
    /// message, with a type its checks accept. One line per field that is not.
    pub fn compile_strict(
        schema: &str,
        message: Option<&str>,
        fields: &[FieldSpec],
    ) -> Result<Self, Vec<String>> {
        let reader = Self::compile(schema, message, fields).map_err(|e| vec![e])?;
        let mut problems = Vec::new();
        for (i, field) in fields.iter().enumerate() {
            match reader.slots.iter().find(|s| s.target == i) {
                None => problems.push(format!(
                    "{}: the spec declares it; message {} has no such field",
                    field.name, reader.message
                )),
                Some(slot) if !accepts(&field.kind, &slot.ty) => problems.push(format!(
                    "{}: the schema has {}; the spec's {} needs {}",
                    field.name,
                    slot.ty.describe(),
                    crate::avro::kind_name(&field.kind),
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

    /// The event message's full name.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Reads one body (the message index, then the message), handing `take` each declared
    /// field's value (spec field index, value). Strings are borrowed from `body` unless
    /// `copy_strings`.
    pub fn read<'a>(
        &self,
        wire: Wire,
        body: &'a [u8],
        copy_strings: bool,
        take: impl FnMut(usize, Json<'a>),
    ) -> Result<(), String> {
        let mut walk = Walk::new(body, copy_strings);
        self.check_index(wire, &mut walk)?;
        walk.message(self, take)
    }

    fn check_index(&self, wire: Wire, walk: &mut Walk<'_>) -> Result<(), String> {
        match wire {
            Wire::Glue => {
                let index = walk.varint("the message index")?;
                if index != self.glue_index {
                    return Err(format!(
                        "the record is message type #{index} of its schema; the event's, {}, is #{}",
                        self.message, self.glue_index
                    ));
                }
            }
            Wire::Confluent => {
                let count = walk.zigzag("the message indexes' count")?;
                // Compared as read: no allocation per record.
                let mut matches = true;
                let path_len = if count == 0 {
                    matches = self.confluent_path == [0];
                    1
                } else {
                    if !(1..=MAX_PATH as i64).contains(&count) {
                        return Err(format!(
                            "the record names {count} message indexes; expected 1 to {MAX_PATH}"
                        ));
                    }
                    for i in 0..count as usize {
                        let index = walk.zigzag("a message index")?;
                        matches &= self.confluent_path.get(i) == Some(&(index as u64));
                    }
                    count as usize
                };
                if !matches || path_len != self.confluent_path.len() {
                    return Err(format!(
                        "the record names another message type of its schema than the event's, {} (path {:?})",
                        self.message, self.confluent_path
                    ));
                }
            }
        }
        Ok(())
    }

    /// The slot of field `number`, if it is a declared field.
    fn slot(&self, number: u32) -> Option<usize> {
        let i = if number < DENSE {
            self.dense[number as usize]
        } else {
            let at = self
                .sparse
                .binary_search_by_key(&number, |(n, _)| *n)
                .ok()?;
            self.sparse[at].1
        };
        (i != NONE).then_some(usize::from(i))
    }
}

/// The deepest message-type nesting a Confluent path may name.
const MAX_PATH: usize = 32;

/// A registry's `.proto` text compiled into descriptors, the well-known types importable (the
/// reader's compilation; producers and tests write messages with it).
pub fn descriptor_pool(schema: &str) -> Result<DescriptorPool, String> {
    struct Registry(String);
    impl protox::file::FileResolver for Registry {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            if name == SCHEMA_FILE {
                protox::file::File::from_source(name, &self.0)
            } else {
                Err(protox::Error::file_not_found(name))
            }
        }
    }
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(Registry(schema.to_owned()));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler
        .open_file(SCHEMA_FILE)
        .map_err(|e| format!("not a valid Protobuf schema: {e}"))?;
    Ok(compiler.descriptor_pool())
}

fn names(messages: impl Iterator<Item = MessageDescriptor>) -> String {
    let all: Vec<String> = messages.map(|m| m.full_name().to_owned()).collect();
    if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    }
}

/// Glue's index of `target`: its position among all the file's message types, collected
/// breadth-first, sorted by full name.
fn glue_index(file: &prost_reflect::FileDescriptor, target: &MessageDescriptor) -> u64 {
    let mut all = Vec::new();
    let mut queue: VecDeque<MessageDescriptor> = file.messages().collect();
    while let Some(m) = queue.pop_front() {
        queue.extend(m.child_messages());
        all.push(m.full_name().to_owned());
    }
    all.sort();
    all.iter()
        .position(|n| n == target.full_name())
        .unwrap_or(0) as u64
}

/// Confluent's path to `target`: its index among the file's top-level types, then among each
/// enclosing type's nested types.
fn confluent_path(file: &prost_reflect::FileDescriptor, target: &MessageDescriptor) -> Vec<u64> {
    let mut path = Vec::new();
    let mut at = target.clone();
    loop {
        let siblings: Vec<MessageDescriptor> = match at.parent_message() {
            Some(parent) => parent.child_messages().collect(),
            None => file.messages().collect(),
        };
        let i = siblings.iter().position(|m| m == &at).unwrap_or(0);
        path.push(i as u64);
        match at.parent_message() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    path.reverse();
    path
}

fn field_ty(field: &FieldDescriptor) -> Ty {
    if field.is_map() {
        return Ty::Map;
    }
    if field.is_list() {
        return Ty::List;
    }
    kind_ty(&field.kind())
}

fn kind_ty(kind: &Kind) -> Ty {
    match kind {
        Kind::Int32 => Ty::Int32,
        Kind::Int64 => Ty::Int64,
        Kind::Uint32 => Ty::Uint32,
        Kind::Uint64 => Ty::Uint64,
        Kind::Sint32 => Ty::Sint32,
        Kind::Sint64 => Ty::Sint64,
        Kind::Fixed32 => Ty::Fixed32,
        Kind::Fixed64 => Ty::Fixed64,
        Kind::Sfixed32 => Ty::Sfixed32,
        Kind::Sfixed64 => Ty::Sfixed64,
        Kind::Float => Ty::Float,
        Kind::Double => Ty::Double,
        Kind::Bool => Ty::Bool,
        Kind::String => Ty::String,
        Kind::Bytes => Ty::Bytes,
        Kind::Enum(e) => Ty::Enum(
            e.values()
                .map(|v| (v.number(), v.name().to_owned()))
                .collect(),
        ),
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp" => Ty::Timestamp,
            name => match wrapped(name) {
                Some(inner) => Ty::Wrapper(Box::new(inner)),
                None => Ty::Message,
            },
        },
    }
}

/// The value type of a `google.protobuf` wrapper message.
fn wrapped(name: &str) -> Option<Ty> {
    Some(match name.strip_prefix("google.protobuf.")? {
        "DoubleValue" => Ty::Double,
        "FloatValue" => Ty::Float,
        "Int64Value" => Ty::Int64,
        "UInt64Value" => Ty::Uint64,
        "Int32Value" => Ty::Int32,
        "UInt32Value" => Ty::Uint32,
        "BoolValue" => Ty::Bool,
        "StringValue" => Ty::String,
        "BytesValue" => Ty::Bytes,
        _ => return None,
    })
}

impl Ty {
    fn is_integer(&self) -> bool {
        matches!(
            self,
            Ty::Int32
                | Ty::Int64
                | Ty::Uint32
                | Ty::Uint64
                | Ty::Sint32
                | Ty::Sint64
                | Ty::Fixed32
                | Ty::Fixed64
                | Ty::Sfixed32
                | Ty::Sfixed64
        )
    }

    fn describe(&self) -> String {
        match self {
            Ty::Int32 => "int32".into(),
            Ty::Int64 => "int64".into(),
            Ty::Uint32 => "uint32".into(),
            Ty::Uint64 => "uint64".into(),
            Ty::Sint32 => "sint32".into(),
            Ty::Sint64 => "sint64".into(),
            Ty::Fixed32 => "fixed32".into(),
            Ty::Fixed64 => "fixed64".into(),
            Ty::Sfixed32 => "sfixed32".into(),
            Ty::Sfixed64 => "sfixed64".into(),
            Ty::Float => "float".into(),
            Ty::Double => "double".into(),
            Ty::Bool => "bool".into(),
            Ty::String => "string".into(),
            Ty::Bytes => "bytes".into(),
            Ty::Enum(_) => "an enum".into(),
            Ty::Timestamp => "google.protobuf.Timestamp".into(),
            Ty::Wrapper(inner) => format!("a wrapper of {}", inner.describe()),
            Ty::Message => "a message".into(),
            Ty::List => "a repeated field".into(),
            Ty::Map => "a map".into(),
        }
    }
}

fn wanted(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::String { .. } => "string or an enum",
        FieldKind::Integer { .. } => "an integer type",
        FieldKind::Decimal { .. } => "an integer type, float or double",
        FieldKind::Timestamp => {
            "google.protobuf.Timestamp, an integer type (epoch ms) or string (RFC 3339)"
        }
        FieldKind::Boolean => "bool",
    }
}

/// Whether a value of `ty` can pass the checks of a field of `kind` (a wrapper: if its value
/// can).
fn accepts(kind: &FieldKind, ty: &Ty) -> bool {
    if let Ty::Wrapper(inner) = ty {
        return accepts(kind, inner);
    }
    match kind {
        FieldKind::String { .. } => matches!(ty, Ty::String | Ty::Enum(_)),
        FieldKind::Integer { .. } => ty.is_integer(),
        FieldKind::Decimal { .. } => ty.is_integer() || matches!(ty, Ty::Float | Ty::Double),
        FieldKind::Timestamp => ty.is_integer() || matches!(ty, Ty::Timestamp | Ty::String),
        FieldKind::Boolean => *ty == Ty::Bool,
    }
}

#[cfg(test)]
mod tests;
