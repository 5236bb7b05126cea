//! Walking a Protobuf message: tags, varints, fixed-width values, length-delimited values and
//! groups, each bounded by the bytes left, with the errors `prost` would give.

use std::borrow::Cow;

use super::{Reader, Slot, Ty};
use crate::json::Json;

/// Wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const SGROUP: u8 = 3;
const EGROUP: u8 = 4;
const I32: u8 = 5;

/// How deep groups may nest in skipped fields (prost's recursion limit).
const MAX_GROUP_DEPTH: u32 = 100;
/// Declared fields kept on the stack; a spec with more uses the heap.
const INLINE: usize = 16;

/// A declared field's value, as read so far (the last occurrence wins; a timestamp's or
/// wrapper's fields merge).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val {
    Unset,
    Int(i64),
    Big(u64),
    Float(f64),
    Bool(bool),
    /// A string's place in the body.
    Str(usize, usize),
    Enum(i32),
    Time {
        seconds: i64,
        nanos: i32,
    },
    Bytes,
    Object,
    Array,
}

/// A position in a body.
pub(super) struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
    copy_strings: bool,
}

impl<'a> Walk<'a> {
    pub(super) fn new(bytes: &'a [u8], copy_strings: bool) -> Self {
        Self {
            bytes,
            at: 0,
            copy_strings,
        }
    }

    fn end(&self, what: &str) -> String {
        format!("the body ends inside {what} at byte {}", self.at)
    }

    /// A base-128 varint of at most 10 bytes, the tenth at most 1.
    pub(super) fn varint(&mut self, what: &str) -> Result<u64, String> {
        let start = self.at;
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(self.end(what));
            };
            self.at += 1;
            if i == 9 && b > 1 {
                break;
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("{what} at byte {start} is not a valid varint"))
    }

    pub(super) fn zigzag(&mut self, what: &str) -> Result<i64, String> {
        let raw = self.varint(what)?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let slice = self
            .bytes
            .get(self.at..self.at.saturating_add(n))
            .ok_or_else(|| self.end(what))?;
        self.at += n;
        Ok(slice)
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A length-delimited value's bytes: (start, end).
    fn len_delimited(&mut self) -> Result<(usize, usize), String> {
        let at = self.at;
        let len = self.varint("a length")?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| {
                format!(
                    "the value at byte {at} is {len} bytes long; {} are left",
                    self.bytes.len() - self.at
                )
            })?;
        let start = self.at;
        self.at += len;
        Ok((start, self.at))
    }

    /// A field's tag: (number, wire type).
    fn tag(&mut self) -> Result<(u32, u8), String> {
        let at = self.at;
        let key = self.varint("a tag")?;
        let key = u32::try_from(key).map_err(|_| format!("the tag at byte {at} is {key}"))?;
        let (number, wire) = (key >> 3, (key & 7) as u8);
        if number == 0 {
            return Err(format!("the tag at byte {at} names field 0"));
        }
        Ok((number, wire))
    }

    /// Steps over a value of `wire` type of field `number` (a group: to its end).
    fn skip(&mut self, number: u32, wire: u8, depth: u32) -> Result<(), String> {
        match wire {
            VARINT => {
                self.varint("a varint")?;
            }
            I64 => {
                self.take(8, "a 64-bit value")?;
            }
            I32 => {
                self.take(4, "a 32-bit value")?;
            }
            LEN => {
                self.len_delimited()?;
            }
            SGROUP => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(format!("groups nest deeper than {MAX_GROUP_DEPTH}"));
                }
                loop {
                    let at = self.at;
                    let (n, w) = self.tag()?;
                    if w == EGROUP {
                        if n != number {
                            return Err(format!(
                                "the group of field {number} ends at byte {at} as field {n}'s"
                            ));
                        }
                        return Ok(());
                    }
                    self.skip(n, w, depth + 1)?;
                }
            }
            EGROUP => return Err(format!("a group's end at byte {} opens none", self.at)),
            other => {
                return Err(format!(
                    "wire type {other} of field {number} before byte {}",
                    self.at
                ));
            }
        }
        Ok(())
    }

    /// Reads the message's fields, then hands `take` each declared field's value.
    pub(super) fn message(
        &mut self,
        reader: &Reader,
        mut take: impl FnMut(usize, Json<'a>),
    ) -> Result<(), String> {
        let mut inline = [Val::Unset; INLINE];
        let mut heap;
        let vals: &mut [Val] = if reader.slots.len() <= INLINE {
            &mut inline[..reader.slots.len()]
        } else {
            heap = vec![Val::Unset; reader.slots.len()];
            &mut heap
        };
        while self.at < self.bytes.len() {
            let (number, wire) = self.tag()?;
            match reader.slot(number) {
                Some(i) => {
                    let slot = &reader.slots[i];
                    vals[i] = self.value(slot, number, wire, vals[i])?;
                }
                None => self.skip(number, wire, 0)?,
            }
        }
        for (slot, val) in reader.slots.iter().zip(vals.iter()) {
            let val = match val {
                Val::Unset if slot.implicit => default(&slot.ty),
                Val::Unset => continue,
                v => *v,
            };
            take(slot.target, self.json(&slot.ty, val));
        }
        Ok(())
    }

    /// One occurrence of a declared field, merged into what was read before.
    fn value(&mut self, slot: &Slot, number: u32, wire: u8, before: Val) -> Result<Val, String> {
        let at = self.at;
        let wrong = || {
            format!(
                "field {number} at byte {at} has wire type {wire}; its type {} has another",
                slot.ty.describe()
            )
        };
        match &slot.ty {
            Ty::List => {
                self.skip(number, wire, 0)?;
                Ok(Val::Array)
            }
            Ty::Map | Ty::Message if wire == LEN => {
                self.len_delimited()?;
                Ok(Val::Object)
            }
            Ty::Timestamp | Ty::Wrapper(_) if wire == LEN => {
                let (start, end) = self.len_delimited()?;
                let mut inner = Walk {
                    bytes: &self.bytes[..end],
                    at: start,
                    copy_strings: false,
                };
                inner.merge(&slot.ty, before)
            }
            Ty::Map | Ty::Message | Ty::Timestamp | Ty::Wrapper(_) => Err(wrong()),
            scalar if wire != wire_type(scalar) => Err(wrong()),
            scalar => self.scalar(scalar),
        }
    }

    /// A scalar of `ty`, its wire type checked.
    fn scalar(&mut self, ty: &Ty) -> Result<Val, String> {
        Ok(match ty {
            Ty::Int32 => Val::Int(i64::from(self.varint("an int32")? as i32)),
            Ty::Int64 => Val::Int(self.varint("an int64")? as i64),
            Ty::Uint32 => Val::Int(i64::from(self.varint("a uint32")? as u32)),
            Ty::Uint64 => {
                let v = self.varint("a uint64")?;
                i64::try_from(v).map_or(Val::Big(v), Val::Int)
            }
            Ty::Sint32 => {
                let raw = self.varint("a sint32")? as u32;
                Val::Int(i64::from((raw >> 1) as i32 ^ -((raw & 1) as i32)))
            }
            Ty::Sint64 => {
                let raw = self.varint("a sint64")?;
                Val::Int((raw >> 1) as i64 ^ -((raw & 1) as i64))
            }
            Ty::Enum(_) => Val::Enum(self.varint("an enum")? as i32),
            Ty::Bool => Val::Bool(self.varint("a bool")? != 0),
            Ty::Fixed32 => Val::Int(i64::from(u32::from_le_bytes(self.fixed("a fixed32")?))),
            Ty::Sfixed32 => Val::Int(i64::from(i32::from_le_bytes(self.fixed("a sfixed32")?))),
            Ty::Float => Val::Float(f64::from(f32::from_le_bytes(self.fixed("a float")?))),
            Ty::Fixed64 => {
                let v = u64::from_le_bytes(self.fixed("a fixed64")?);
                i64::try_from(v).map_or(Val::Big(v), Val::Int)
            }
            Ty::Sfixed64 => Val::Int(i64::from_le_bytes(self.fixed("a sfixed64")?)),
            Ty::Double => Val::Float(f64::from_le_bytes(self.fixed("a double")?)),
            Ty::String => {
                let (start, end) = self.len_delimited()?;
                if std::str::from_utf8(&self.bytes[start..end]).is_err() {
                    return Err(format!("the string at byte {start} is not UTF-8"));
                }
                Val::Str(start, end)
            }
            Ty::Bytes => {
                self.len_delimited()?;
                Val::Bytes
            }
            Ty::Timestamp | Ty::Wrapper(_) | Ty::Message | Ty::List | Ty::Map => {
                unreachable!("not a scalar")
            }
        })
    }

    /// A timestamp's or wrapper's fields (this walk spans its bytes), merged into `before`.
    fn merge(&mut self, ty: &Ty, before: Val) -> Result<Val, String> {
        let mut out = match before {
            Val::Unset => match ty {
                Ty::Timestamp => Val::Time {
                    seconds: 0,
                    nanos: 0,
                },
                Ty::Wrapper(inner) => default(inner),
                _ => before,
            },
            v => v,
        };
        while self.at < self.bytes.len() {
            let (number, wire) = self.tag()?;
            match (ty, number) {
                (Ty::Timestamp, 1 | 2) => {
                    let Val::Time { seconds, nanos } = &mut out else {
                        unreachable!("a timestamp's value")
                    };
                    if wire != VARINT {
                        return Err(format!("a timestamp's field {number} is not a varint"));
                    }
                    let v = self.varint("a timestamp's field")?;
                    if number == 1 {
                        *seconds = v as i64;
                    } else {
                        *nanos = v as i32;
                    }
                }
                (Ty::Wrapper(inner), 1) => {
                    if wire != wire_type(inner) {
                        return Err(format!(
                            "a wrapper's value has wire type {wire}; {} has another",
                            inner.describe()
                        ));
                    }
                    out = self.scalar(inner)?;
                }
                _ => self.skip(number, wire, 0)?,
            }
        }
        Ok(out)
    }

    /// What the checks see of a value read from this body.
    fn json(&self, ty: &Ty, val: Val) -> Json<'a> {
        match val {
            Val::Unset => Json::Null,
            Val::Int(v) => Json::Int(v),
            Val::Big(v) => Json::Units(i128::from(v), 0),
            Val::Float(f) => Json::Float(f),
            Val::Bool(b) => Json::Bool(b),
            Val::Str(start, end) => {
                // Checked UTF-8 when read (a default is empty).
                let s = std::str::from_utf8(&self.bytes[start..end]).unwrap_or_default();
                Json::Str(if self.copy_strings {
                    Cow::Owned(s.to_owned())
                } else {
                    Cow::Borrowed(s)
                })
            }
            Val::Enum(n) => {
                let values = match ty {
                    Ty::Enum(values) => values,
                    Ty::Wrapper(inner) => return self.json(inner, val),
                    _ => return Json::Int(i64::from(n)),
                };
                match values.iter().find(|(number, _)| *number == n) {
                    Some((_, name)) => Json::Str(Cow::Owned(name.clone())),
                    None => Json::Int(i64::from(n)),
                }
            }
            Val::Time { seconds, nanos } => Json::Time(
                seconds
                    .saturating_mul(1_000)
                    .saturating_add(i64::from(nanos).div_euclid(1_000_000)),
            ),
            Val::Bytes => Json::Bytes,
            Val::Object => Json::Object,
            Val::Array => Json::Array,
        }
    }
}

/// The wire type a scalar is written with (unpacked).
fn wire_type(ty: &Ty) -> u8 {
    match ty {
        Ty::Fixed64 | Ty::Sfixed64 | Ty::Double => I64,
        Ty::Fixed32 | Ty::Sfixed32 | Ty::Float => I32,
        Ty::String | Ty::Bytes | Ty::Message | Ty::Timestamp | Ty::Wrapper(_) | Ty::Map => LEN,
        Ty::List => LEN,
        _ => VARINT,
    }
}

/// A field's value when a field without presence is absent.
fn default(ty: &Ty) -> Val {
    match ty {
        Ty::Float | Ty::Double => Val::Float(0.0),
        Ty::Bool => Val::Bool(false),
        Ty::String => Val::Str(0, 0),
        Ty::Bytes => Val::Bytes,
        Ty::Enum(values) => Val::Enum(values.first().map_or(0, |(n, _)| *n)),
        Ty::List => Val::Array,
        Ty::Map => Val::Object,
        Ty::Timestamp | Ty::Wrapper(_) | Ty::Message => Val::Unset,
        _ => Val::Int(0),
    }
}
