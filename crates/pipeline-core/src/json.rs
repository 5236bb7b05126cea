//! A strict, allocation-free scanner for the one JSON shape the hot path reads: a top-level
//! object whose values are mostly scalars.
//!
//! Strings without escapes are borrowed and checked as UTF-8 in place; numbers are handed over
//! as their exact text (so prices never pass through `f64`). What is rare — strings with
//! escapes, nested objects and arrays — is handed to `serde_json`, so the grammar accepted is
//! exactly JSON's (RFC 8259); a differential test holds the two to the same verdicts.

use std::borrow::Cow;

use serde::de::IgnoredAny;

/// A scalar or a note of what non-scalar stood there.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Str(Cow<'a, str>),
    /// The exact text of a number, valid by JSON's grammar.
    Num(&'a str),
    Bool(bool),
    Null,
    Object,
    Array,
    // What binary formats hand the same checks (the JSON scanner makes none of these):
    /// An integer (Avro `int`, `long`).
    Int(i64),
    /// A binary floating-point number (Avro `float`, `double`).
    Float(f64),
    /// A decimal: unscaled units and their scale (Avro's `decimal`).
    Units(i128, u32),
    /// A point in time, epoch ms (Avro's timestamp and date types).
    Time(i64),
    /// Raw bytes (Avro `bytes`, `fixed`).
    Bytes,
}

impl Json<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Str(_) => "a string",
            Json::Num(_) => "a number",
            Json::Bool(_) => "a boolean",
            Json::Null => "null",
            Json::Object => "an object",
            Json::Array => "an array",
            Json::Int(_) => "an integer",
            Json::Float(_) => "a floating-point number",
            Json::Units(..) => "a decimal",
            Json::Time(_) => "a timestamp",
            Json::Bytes => "bytes",
        }
    }
}

/// Why the bytes are not one JSON object: a short message with the byte position.
pub type SyntaxError = String;

#[derive(Debug)]
pub struct Scanner<'a> {
    /// The whole input, checked as UTF-8 once up front (JSON text is UTF-8 throughout), so that
    /// strings are sliced out of it at their quotes with no further check.
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, SyntaxError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
        Ok(Self { text, bytes, at: 0 })
    }

    fn error(&self, what: &str) -> SyntaxError {
        match self.bytes.get(self.at) {
            None => format!("{what}: the input ends at byte {}", self.at),
            Some(&b) if b.is_ascii_graphic() => {
                format!("{what} at byte {}, found `{}`", self.at, char::from(b))
            }
            Some(&b) => format!("{what} at byte {}, found byte 0x{b:02x}", self.at),
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Reads `{ "key": value, ... }`, then checks that nothing but whitespace follows.
    ///
    /// Each key is matched by `lookup` (a declared name); for a match, `on_field` gets its index
    /// and reads the value. Values of unknown keys are checked and skipped.
    pub fn object(
        &mut self,
        lookup: impl Fn(&[u8]) -> Option<usize>,
        mut on_field: impl FnMut(usize, &mut Self) -> Result<(), SyntaxError>,
    ) -> Result<(), SyntaxError> {
        self.skip_whitespace();
        if self.bytes.get(self.at) != Some(&b'{') {
            return Err(match self.value() {
                Ok(found) => format!("expected a JSON object, found {}", found.type_name()),
                Err(_) => self.error("expected a JSON object"),
            });
        }
        self.at += 1;
        if !self.eat(b'}') {
            loop {
                self.skip_whitespace();
                if self.bytes.get(self.at) != Some(&b'"') {
                    return Err(self.error("expected a string key"));
                }
                let start = self.at;
                let field = match self.raw_string()? {
                    Some(raw) => lookup(raw.as_bytes()),
                    None => {
                        self.at = start;
                        lookup(self.escaped_string()?.as_bytes())
                    }
                };
                if !self.eat(b':') {
                    return Err(self.error("expected `:`"));
                }
                match field {
                    Some(i) => on_field(i, self)?,
                    None => {
                        self.value()?;
                    }
                }
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b'}') {
                    break;
                }
                return Err(self.error("expected `,` or `}`"));
            }
        }
        self.skip_whitespace();
        if self.at != self.bytes.len() {
            return Err(self.error("trailing characters"));
        }
        Ok(())
    }

    /// Reads one value.
    pub fn value(&mut self) -> Result<Json<'a>, SyntaxError> {
        self.skip_whitespace();
        match self.bytes.get(self.at) {
            Some(b'"') => self.string().map(Json::Str),
            Some(b'-' | b'0'..=b'9') => self.number().map(Json::Num),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'{') => self.nested().map(|()| Json::Object),
            Some(b'[') => self.nested().map(|()| Json::Array),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, SyntaxError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    /// A nested object or array, checked by serde_json and skipped.
    fn nested(&mut self) -> Result<(), SyntaxError> {
        let rest = &self.bytes[self.at..];
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<IgnoredAny>();
        match stream.next() {
            Some(Ok(_)) => {
                self.at += stream.byte_offset();
                Ok(())
            }
            Some(Err(e)) => Err(format!("in the value at byte {}: {e}", self.at)),
            None => Err(self.error("expected a JSON value")),
        }
    }

    /// A string literal starting at the opening quote.
    fn string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        let start = self.at;
        match self.raw_string()? {
            Some(raw) => Ok(Cow::Borrowed(raw)),
            None => {
                self.at = start;
                self.escaped_string().map(Cow::Owned)
            }
        }
    }

    /// The text between the quotes of a string without escapes; `None`, with the position
    /// unspecified, when the string has escapes.
    fn raw_string(&mut self) -> Result<Option<&'a str>, SyntaxError> {
        let start = self.at + 1;
        let rest = &self.bytes[start..];
        match rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        {
            None => {
                self.at = self.bytes.len();
                Err(self.error("unterminated string"))
            }
            Some(n) => match rest[n] {
                b'"' => {
                    self.at = start + n + 1;
                    // Both ends sit next to an ASCII quote, so they are character boundaries.
                    Ok(self.text.get(start..start + n))
                }
                b'\\' => Ok(None),
                _ => {
                    self.at = start + n;
                    Err(self.error("control character in a string"))
                }
            },
        }
    }

    /// A string with escapes: found by skipping escaped characters, decoded by serde_json.
    fn escaped_string(&mut self) -> Result<String, SyntaxError> {
        let start = self.at;
        let mut i = start + 1;
        loop {
            match self.bytes.get(i) {
                None => {
                    self.at = i;
                    return Err(self.error("unterminated string"));
                }
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
            }
        }
        let text: String = serde_json::from_slice(&self.bytes[start..=i])
            .map_err(|e| format!("in the string at byte {start}: {e}"))?;
        self.at = i + 1;
        Ok(text)
    }

    /// A number by JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<&'a str, SyntaxError> {
        let b = self.bytes;
        let start = self.at;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => {
                self.at = i;
                return Err(self.error("invalid number"));
            }
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                self.at = i;
                return Err(self.error("invalid number"));
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = b.get(i) {
            exponent = true;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                self.at = i;
                return Err(self.error("invalid number"));
            }
        }
        // Only ASCII digits, signs, dots and exponents were consumed.
        let text = self.text.get(start..i).unwrap_or_default();
        // serde_json refuses a number whose value overflows f64 (`1e400`, or 400 digits): so
        // does the scanner. Without an exponent, fewer than 309 digits cannot overflow.
        if (exponent || i - start > 308) && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            self.at = start;
            return Err(self.error("number out of range"));
        }
        self.at = i;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The members of a top-level object as the scanner sees them, or its error.
    fn scan(bytes: &[u8]) -> Result<Vec<(String, Json<'_>)>, SyntaxError> {
        // Every key is "declared": its index is its position in a list grown as keys appear.
        let keys = std::cell::RefCell::new(Vec::<Vec<u8>>::new());
        let mut members = Vec::new();
        Scanner::new(bytes)?.object(
            |raw| {
                let mut keys = keys.borrow_mut();
                Some(keys.iter().position(|k| k == raw).unwrap_or_else(|| {
                    keys.push(raw.to_vec());
                    keys.len() - 1
                }))
            },
            |i, s| {
                let key = String::from_utf8(keys.borrow()[i].clone()).map_err(|e| e.to_string())?;
                members.push((key, s.value()?));
                Ok(())
            },
        )?;
        Ok(members)
    }

    /// The same through serde_json, normalised to the scanner's view.
    fn reference(bytes: &[u8]) -> Option<Vec<(String, String)>> {
        let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let serde_json::Value::Object(map) = value else {
            return None;
        };
        // Sorted by key whether or not another crate turns on serde_json's `preserve_order`.
        let sorted: std::collections::BTreeMap<String, String> =
            map.into_iter().map(|(k, v)| (k, kind(&v))).collect();
        Some(sorted.into_iter().collect())
    }

    fn kind(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => format!("s:{s}"),
            // To 12 significant digits: serde_json's default float parsing is not correctly
            // rounded (187e25 reads as 1.8700000000000002e27), Rust's `parse` is.
            serde_json::Value::Number(n) => format!("n:{:.12e}", n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::Bool(_) => "bool".into(),
            serde_json::Value::Null => "null".into(),
            serde_json::Value::Object(_) => "object".into(),
            serde_json::Value::Array(_) => "array".into(),
        }
    }

    fn ours(members: Vec<(String, Json<'_>)>) -> Vec<(String, String)> {
        // serde_json keeps the last of duplicate keys; both sides are sorted by key.
        let mut map = std::collections::BTreeMap::new();
        for (k, v) in members {
            let v = match v {
                Json::Str(s) => format!("s:{s}"),
                Json::Num(n) => format!("n:{:.12e}", n.parse::<f64>().unwrap_or(f64::NAN)),
                Json::Bool(_) => "bool".into(),
                Json::Null => "null".into(),
                Json::Object => "object".into(),
                Json::Array => "array".into(),
                other => panic!("the scanner made {other:?}"),
            };
            map.insert(k, v);
        }
        map.into_iter().collect()
    }

    #[test]
    fn reads_a_tick_and_borrows_plain_strings() {
        let bytes =
            br#" {"ticker":"AMZN","price":187.25,"ok":true,"x":null,"n":{"a":[1]},"e":"a\"b"} "#;
        let members = scan(bytes).unwrap();
        assert!(matches!(members[0].1, Json::Str(Cow::Borrowed("AMZN"))));
        assert_eq!(members[1].1, Json::Num("187.25"));
        assert_eq!(members[4].1, Json::Object);
        assert_eq!(members[5].1, Json::Str(Cow::Owned("a\"b".into())));
    }

    #[test]
    fn refuses_what_json_refuses() {
        for bad in [
            "",
            " ",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":+1}",
            "{\"a\":NaN}",
            "{\"a\":1e400}",
            "{\"a\":-1E+400}",
            "{\"a\":Infinity}",
            "{\"a\":tru}",
            "{\"a\":\"x}",
            "{a:1}",
            "{\"a\":1}x",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":[1,}",
            "[1]",
            "\"s\"",
            "null",
            "{\"a\":1}{}",
        ] {
            assert!(scan(bad.as_bytes()).is_err(), "{bad:?} should be refused");
            assert!(
                reference(bad.as_bytes()).is_none(),
                "{bad:?}: serde_json disagrees"
            );
        }
        let huge = format!("{{\"a\":{}}}", "9".repeat(400));
        assert!(scan(huge.as_bytes()).is_err() && reference(huge.as_bytes()).is_none());
        // Underflow is zero, not an error, for both.
        assert!(scan(b"{\"a\":1e-400}").is_ok() && reference(b"{\"a\":1e-400}").is_some());
        assert!(scan(b"{\"a\":\"\xff\"}").is_err());
        assert!(
            scan(b"{\"\xff\":1}").is_err(),
            "an unknown key is checked as UTF-8"
        );
        assert!(
            scan(b"{\"a\":{\"\xffb\":[\"\xfe\"]}}").is_err(),
            "so is a nested value"
        );
    }

    const SEED: &str = r#"{"event_id":"e-1","ticker":"AMZN","price":187.25,"volume":100,"event_time":"2026-11-21T14:30:00.250Z","exchange":"NASDAQ","meta":{"a":[1,2,{"b":null}]},"flag":false,"esc":"\u00e9\n"}"#;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Mutated ticks: the scanner accepts exactly what serde_json accepts as an object, and
        /// reads the same members.
        #[test]
        fn agrees_with_serde_json(
            edits in proptest::collection::vec((0usize..200, 0u8..4, proptest::sample::select(b" \t\",:{}[]0123456789-+.eE\\/abcfnrtulsx\xc3\xa9\xff\x01".to_vec())), 0..4),
            cut in 0usize..400,
        ) {
            let mut bytes = SEED.as_bytes().to_vec();
            for (pos, op, byte) in edits {
                let pos = pos % (bytes.len() + 1);
                match op {
                    0 => bytes.insert(pos, byte),
                    1 if pos < bytes.len() => { bytes.remove(pos); }
                    2 if pos < bytes.len() => bytes[pos] = byte,
                    _ => {}
                }
            }
            bytes.truncate(cut.max(1).min(bytes.len()));
            let ours = scan(&bytes).map(ours).ok();
            prop_assert_eq!(ours, reference(&bytes), "{}", String::from_utf8_lossy(&bytes));
        }
    }
}
