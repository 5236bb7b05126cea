//! The schema registries' wire formats: the few bytes in front of an Avro or Protobuf body that
//! name the schema version it was written with. Written by hand (each is a fixed layout of a
//! few bytes); the bodies are Avro (see [`crate::avro`]) or Protobuf (see [`crate::protobuf`],
//! which also reads the message index a Protobuf body starts with).
//!
//! - AWS Glue Schema Registry (the layout of AWS's Java serializer): a header version byte
//!   (`3`), a compression byte (`0` none, `5` zlib), the 16-byte schema version id (a UUID,
//!   most significant byte first), then the body, zlib-compressed when the compression byte
//!   says so.
//! - Confluent: a magic byte (`0`), the 4-byte schema id (big-endian), then the body.

use std::fmt;

/// Which registry's framing a record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    Glue,
    Confluent,
}

impl Wire {
    /// The header's length.
    pub const fn header_len(self) -> usize {
        match self {
            Wire::Glue => GLUE_HEADER_LEN,
            Wire::Confluent => CONFLUENT_HEADER_LEN,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Wire::Glue => "glue",
            Wire::Confluent => "confluent",
        }
    }
}

/// The Glue header: version byte, compression byte, 16-byte schema version id.
pub const GLUE_HEADER_LEN: usize = 18;
/// The Glue header's version byte.
pub const GLUE_VERSION: u8 = 3;
/// The Glue compression byte of an uncompressed body.
pub const GLUE_UNCOMPRESSED: u8 = 0;
/// The Glue compression byte of a zlib-compressed body.
pub const GLUE_ZLIB: u8 = 5;
/// The Confluent header: magic byte, 4-byte schema id.
pub const CONFLUENT_HEADER_LEN: usize = 5;
/// The Confluent magic byte.
pub const CONFLUENT_MAGIC: u8 = 0;

/// The schema version a record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaId {
    /// A Glue schema version id (a UUID).
    Glue([u8; 16]),
    /// A Confluent schema id.
    Confluent(u32),
}

impl SchemaId {
    /// The wire format whose header carries this id.
    pub fn wire(self) -> Wire {
        match self {
            SchemaId::Glue(_) => Wire::Glue,
            SchemaId::Confluent(_) => Wire::Confluent,
        }
    }

    /// A Glue schema version id from its text form (`8-4-4-4-12` hex digits).
    pub fn parse_uuid(text: &str) -> Option<Self> {
        let hex: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
        if hex.len() != 32 || text.len() != 36 {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let digits = std::str::from_utf8(pair).ok()?;
            id[i] = u8::from_str_radix(digits, 16).ok()?;
        }
        Some(SchemaId::Glue(id))
    }
}

impl fmt::Display for SchemaId {
    /// A Glue id as its UUID text, a Confluent id as its number: the value of a dead letter's
    /// `dlq.schema_version` header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaId::Glue(id) => {
                for (i, b) in id.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        f.write_str("-")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            SchemaId::Confluent(id) => write!(f, "{id}"),
        }
    }
}

/// How the body after the header is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    Plain(&'a [u8]),
    Zlib(&'a [u8]),
}

/// A record split into the schema version it names and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed<'a> {
    pub schema: SchemaId,
    pub body: Body<'a>,
}

/// Why the header cannot be read: the detail of a `malformed` dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    Truncated { wire: Wire, len: usize },
    Version(u8),
    Compression(u8),
    Magic(u8),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Truncated { wire, len } => write!(
                f,
                "the record has {len} bytes; the {} wire format's header alone has {}",
                wire.name(),
                wire.header_len()
            ),
            HeaderError::Version(b) => write!(
                f,
                "header version byte 0x{b:02x}; the Glue wire format's is 0x{GLUE_VERSION:02x}"
            ),
            HeaderError::Compression(b) => write!(
                f,
                "compression byte 0x{b:02x}; the Glue wire format knows 0x00 (none) and 0x05 (zlib)"
            ),
            HeaderError::Magic(b) => write!(
                f,
                "magic byte 0x{b:02x}; the Confluent wire format's is 0x{CONFLUENT_MAGIC:02x}"
            ),
        }
    }
}

/// Splits a record into its schema version and body.
pub fn parse(wire: Wire, bytes: &[u8]) -> Result<Framed<'_>, HeaderError> {
    if bytes.len() < wire.header_len() {
        return Err(HeaderError::Truncated {
            wire,
            len: bytes.len(),
        });
    }
    let (header, rest) = bytes.split_at(wire.header_len());
    match wire {
        Wire::Glue => {
            if header[0] != GLUE_VERSION {
                return Err(HeaderError::Version(header[0]));
            }
            let mut id = [0u8; 16];
            id.copy_from_slice(&header[2..]);
            let body = match header[1] {
                GLUE_UNCOMPRESSED => Body::Plain(rest),
                GLUE_ZLIB => Body::Zlib(rest),
                other => return Err(HeaderError::Compression(other)),
            };
            Ok(Framed {
                schema: SchemaId::Glue(id),
                body,
            })
        }
        Wire::Confluent => {
            if header[0] != CONFLUENT_MAGIC {
                return Err(HeaderError::Magic(header[0]));
            }
            let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
            Ok(Framed {
                schema: SchemaId::Confluent(id),
                body: Body::Plain(rest),
            })
        }
    }
}

/// Frames an Avro body for `schema`'s registry; a Glue body is zlib-compressed when `zlib`.
/// What a producer writes (the producer Lambda, the local run, the tests).
pub fn frame(schema: SchemaId, zlib: bool, body: &[u8]) -> Vec<u8> {
    match schema {
        SchemaId::Glue(id) => {
            let mut out = Vec::with_capacity(GLUE_HEADER_LEN + body.len());
            out.push(GLUE_VERSION);
            out.push(if zlib { GLUE_ZLIB } else { GLUE_UNCOMPRESSED });
            out.extend_from_slice(&id);
            if zlib {
                use std::io::Write;
                let mut encoder =
                    flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
                // Writing to a Vec cannot fail.
                let _ = encoder.write_all(body);
                return encoder.finish().unwrap_or_default();
            }
            out.extend_from_slice(body);
            out
        }
        SchemaId::Confluent(id) => {
            let mut out = Vec::with_capacity(CONFLUENT_HEADER_LEN + body.len());
            out.push(CONFLUENT_MAGIC);
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(body);
            out
        }
    }
}

/// Inflates a zlib body into `out` (cleared first), refusing to grow past `limit` bytes, so a
/// small hostile record cannot expand without bound.
pub fn inflate(body: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), String> {
    use std::io::Read;
    out.clear();
    let mut decoder = flate2::read::ZlibDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(out)
        .map_err(|e| format!("the zlib body does not inflate: {e}"))?;
    if out.len() > limit {
        return Err(format!(
            "the zlib body inflates past {limit} bytes, the spec's event.max_bytes"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 16] = [
        0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x11, 0xd2, 0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4,
        0x27,
    ];

    #[test]
    fn glue_frames_round_trip_plain_and_zlib() {
        for zlib in [false, true] {
            let framed = frame(SchemaId::Glue(ID), zlib, b"avro body");
            assert_eq!(framed[..2], [3, if zlib { 5 } else { 0 }]);
            let parsed = parse(Wire::Glue, &framed).unwrap();
            assert_eq!(parsed.schema, SchemaId::Glue(ID));
            let body = match parsed.body {
                Body::Plain(b) => b.to_vec(),
                Body::Zlib(z) => {
                    let mut out = Vec::new();
                    inflate(z, 1_000, &mut out).unwrap();
                    out
                }
            };
            assert_eq!(body, b"avro body");
        }
    }

    #[test]
    fn confluent_frames_round_trip() {
        let framed = frame(SchemaId::Confluent(0x0102_0304), false, b"x");
        assert_eq!(framed, [0, 1, 2, 3, 4, b'x']);
        let parsed = parse(Wire::Confluent, &framed).unwrap();
        assert_eq!(parsed.schema, SchemaId::Confluent(0x0102_0304));
        assert_eq!(parsed.body, Body::Plain(b"x"));
    }

    #[test]
    fn every_header_fault_is_named() {
        let glue = frame(SchemaId::Glue(ID), false, b"");
        for len in 0..GLUE_HEADER_LEN {
            assert_eq!(
                parse(Wire::Glue, &glue[..len]),
                Err(HeaderError::Truncated {
                    wire: Wire::Glue,
                    len
                })
            );
        }
        assert!(
            parse(Wire::Glue, &glue).is_ok(),
            "an empty body is the body's problem"
        );
        let mut bad = glue.clone();
        bad[0] = 4;
        assert_eq!(parse(Wire::Glue, &bad), Err(HeaderError::Version(4)));
        let mut bad = glue;
        bad[1] = 1;
        assert_eq!(parse(Wire::Glue, &bad), Err(HeaderError::Compression(1)));
        assert_eq!(
            parse(Wire::Confluent, &[0, 0, 1]),
            Err(HeaderError::Truncated {
                wire: Wire::Confluent,
                len: 3
            })
        );
        assert_eq!(
            parse(Wire::Confluent, &[1, 0, 0, 0, 7]),
            Err(HeaderError::Magic(1))
        );
        let detail = HeaderError::Version(4).to_string();
        assert!(
            detail.contains("0x04") && detail.contains("0x03"),
            "{detail}"
        );
    }

    #[test]
    fn inflate_is_bounded_and_refuses_garbage() {
        let framed = frame(SchemaId::Glue(ID), true, &[b'a'; 10_000]);
        let Body::Zlib(z) = parse(Wire::Glue, &framed).unwrap().body else {
            panic!("not zlib")
        };
        let mut out = Vec::new();
        let err = inflate(z, 100, &mut out).unwrap_err();
        assert!(err.contains("past 100 bytes"), "{err}");
        assert!(inflate(b"not zlib", 100, &mut out).is_err());
        inflate(z, 10_000, &mut out).unwrap();
        assert_eq!(out.len(), 10_000);
    }

    #[test]
    fn uuid_text_round_trips() {
        let id = SchemaId::Glue(ID);
        let text = id.to_string();
        assert_eq!(text, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert_eq!(SchemaId::parse_uuid(&text), Some(id));
        assert_eq!(
            SchemaId::parse_uuid("1b4e28ba2fa111d2883f0016d3cca427"),
            None
        );
        assert_eq!(
            SchemaId::parse_uuid("zz4e28ba-2fa1-11d2-883f-0016d3cca427"),
            None
        );
    }
}
