//! A short string key stored inline, so that looking up or inserting a window never allocates.

use std::fmt;
use std::hash::{Hash, Hasher};

/// The longest key (in bytes) the core holds inline. The spec loader refuses a key field whose
/// `max_length` is larger.
pub const MAX_KEY_LEN: usize = 31;

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
}
