//! Walking an Avro body: zig-zag varints, length-prefixed bytes and strings, unions, enums and
//! the blocks of arrays and maps, each bounded by the bytes left.

use std::borrow::Cow;

use super::{MAX_EMPTY_ITEMS, Ty, Unit};
use crate::json::Json;

/// A position in a body.
pub(super) struct Cursor<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
    pub(super) empty_items: u64,
    pub(super) copy_strings: bool,
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
    pub(super) fn value(&mut self, ty: &Ty) -> Result<Json<'a>, String> {
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
    pub(super) fn skip(&mut self, ty: &Ty) -> Result<(), String> {
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
