//! A short string key stored inline, so that looking up or inserting a window never allocates.
//!
//! A key of one field is that field's value as written (the Kafka key, and the window key). A
//! key of several fields joins their values with `|`, each value's own `|` and `\` escaped with
//! a `\`, so that different values never make the same key.

use std::fmt;
use std::hash::{Hash, Hasher};

/// The longest key (in bytes) the core holds inline. The spec loader refuses a key field whose
/// `max_length` is larger.
pub const MAX_KEY_LEN: usize = 63;

/// An inline, copyable string of at most [`MAX_KEY_LEN`] bytes.
#[derive(Clone, Copy)]
pub struct Key {
    len: u8,
    bytes: [u8; MAX_KEY_LEN],
}

impl Key {
    /// Copies `text` into a key; `None` when it is longer than [`MAX_KEY_LEN`].
    pub fn new(text: &str) -> Option<Self> {
        let len = text.len();
        if len > MAX_KEY_LEN {
            return None;
        }
        let mut bytes = [0; MAX_KEY_LEN];
        bytes[..len].copy_from_slice(text.as_bytes());
        Some(Self {
            len: len as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // The bytes were copied whole from a `&str`, so they are valid UTF-8.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The key's bytes; hashing and comparison use these, skipping UTF-8 checks.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The values of a key of `n` fields, as written in the event (unescaped).
    pub fn parts(&self, n: usize) -> Vec<String> {
        if n <= 1 {
            return vec![self.as_str().to_owned()];
        }
        let mut parts = vec![String::new()];
        let mut chars = self.as_str().chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => parts
                    .last_mut()
                    .into_iter()
                    .for_each(|p| p.extend(chars.next())),
                '|' => parts.push(String::new()),
                c => parts.last_mut().into_iter().for_each(|p| p.push(c)),
            }
        }
        parts
    }
}

/// Builds a composite key value by value, inline.
#[derive(Debug, Clone, Copy)]
pub struct KeyBuilder {
    len: usize,
    bytes: [u8; MAX_KEY_LEN],
    overflow: bool,
}

impl Default for KeyBuilder {
    fn default() -> Self {
        Self {
            len: 0,
            bytes: [0; MAX_KEY_LEN],
            overflow: false,
        }
    }
}

impl KeyBuilder {
    fn push_byte(&mut self, b: u8) {
        if self.len < MAX_KEY_LEN {
            self.bytes[self.len] = b;
            self.len += 1;
        } else {
            self.overflow = true;
        }
    }

    /// Appends the next value (a separator first, after the first value).
    pub fn push(&mut self, first: bool, value: &str) {
        if !first {
            self.push_byte(b'|');
        }
        for &b in value.as_bytes() {
            if b == b'|' || b == b'\\' {
                self.push_byte(b'\\');
            }
            self.push_byte(b);
        }
    }

    /// The key; `None` when it grew past [`MAX_KEY_LEN`] bytes.
    pub fn finish(&self) -> Option<Key> {
        if self.overflow {
            return None;
        }
        let mut bytes = [0; MAX_KEY_LEN];
        bytes[..self.len].copy_from_slice(&self.bytes[..self.len]);
        Some(Key {
            len: self.len as u8,
            bytes,
        })
    }
}

impl Default for Key {
    /// The empty key.
    fn default() -> Self {
        Self {
            len: 0,
            bytes: [0; MAX_KEY_LEN],
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // UTF-8 byte order is code point order, so this orders like the strings.
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_compares_by_text() {
        let a = Key::new("AMZN").unwrap();
        assert_eq!(a.as_str(), "AMZN");
        assert_eq!(a, Key::new("AMZN").unwrap());
        assert!(Key::new("AAPL").unwrap() < a);
        assert_eq!(
            Key::new(&"X".repeat(MAX_KEY_LEN)).unwrap().as_str().len(),
            MAX_KEY_LEN
        );
        assert!(Key::new(&"X".repeat(MAX_KEY_LEN + 1)).is_none());
    }

    #[test]
    fn composite_keys_escape_their_separator_and_split_back() {
        let mut b = KeyBuilder::default();
        b.push(true, "FR");
        b.push(false, "web|app");
        b.push(false, "a\\b");
        let key = b.finish().unwrap();
        assert_eq!(key.as_str(), "FR|web\\|app|a\\\\b");
        assert_eq!(key.parts(3), ["FR", "web|app", "a\\b"]);
        let mut other = KeyBuilder::default();
        other.push(true, "FR|web");
        other.push(false, "app");
        let other = other.finish().unwrap();
        assert_eq!(other.parts(2), ["FR|web", "app"]);
        let mut same_text = KeyBuilder::default();
        same_text.push(true, "FR");
        same_text.push(false, "web|app");
        assert_ne!(
            other,
            same_text.finish().unwrap(),
            "values never run together"
        );
        let mut long = KeyBuilder::default();
        long.push(true, &"x".repeat(40));
        long.push(false, &"y".repeat(40));
        assert!(long.finish().is_none());
    }
}
