//! Cache keys: the normalised request target (path and query), so that
//! equivalent spellings of one URL share an entry.
//!
//! Normalisation (RFC 3986 §6.2.2): percent-encoded unreserved characters
//! are decoded (`%7E` → `~`), other escapes get uppercase hex (`%2f` →
//! `%2F`), and an empty query (`/a?`) is dropped. The query string stays
//! part of the key, in order, so `/app.js?v=2` is a different object from
//! `/app.js?v=1` (versioning as an alternative to purging). The host is not
//! part of the key: an edge fronts one origin.

use std::borrow::Borrow;
use std::fmt;

use http::Uri;

/// Longest accepted request target, bytes.
pub const MAX_KEY_LEN: usize = 8 * 1024;

/// A normalised request target: `/path?query`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

/// Why a request target cannot be a cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Longer than [`MAX_KEY_LEN`].
    #[error("request target longer than {MAX_KEY_LEN} bytes")]
    TooLong,
    /// Not origin-form (`/…`), or a broken percent-escape.
    #[error("request target is not a valid path")]
    Invalid,
}

impl CacheKey {
    /// The key for a request URI.
    pub fn from_uri(uri: &Uri) -> Result<CacheKey, KeyError> {
        let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
        CacheKey::from_target(pq)
    }

    /// The key for a request target (`/path?query`).
    pub fn from_target(target: &str) -> Result<CacheKey, KeyError> {
        if target.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong);
        }
        if !target.starts_with('/') {
            return Err(KeyError::Invalid);
        }
        let target = target.strip_suffix('?').unwrap_or(target);
        if is_normal(target) {
            return Ok(CacheKey(target.to_owned()));
        }
        normalise(target).map(CacheKey)
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path part, without the query.
    pub fn path(&self) -> &str {
        let p = self.primary();
        p.split_once('?').map_or(p, |(p, _)| p)
    }

    /// A derived key (`{self}\0{suffix}`) for data that belongs to this one
    /// (slices, HEAD validations); never equal to a request target.
    pub fn with_suffix(&self, suffix: &str) -> CacheKey {
        CacheKey(format!("{}\0{suffix}", self.0))
    }

    /// The URL part of a key: a variant or derived key without its suffixes.
    pub fn primary(&self) -> &str {
        self.0.split('\0').next().unwrap_or(&self.0)
    }

    /// Wraps an already normalised string (from storage).
    pub(crate) fn from_stored(s: String) -> CacheKey {
        CacheKey(s)
    }
}

/// Whether `target` is already in normal form, so the hit path can look it
/// up without building a key.
pub fn is_normal(target: &str) -> bool {
    target.len() <= MAX_KEY_LEN && target.starts_with('/') && !target.ends_with('?') && !target.contains('%')
}

fn normalise(target: &str) -> Result<String, KeyError> {
    let b = target.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let (h, l) = match (b.get(i + 1), b.get(i + 2)) {
                (Some(h), Some(l)) => (hex(*h).ok_or(KeyError::Invalid)?, hex(*l).ok_or(KeyError::Invalid)?),
                _ => return Err(KeyError::Invalid),
            };
            let c = h * 16 + l;
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                out.push(c as char);
            } else {
                out.push('%');
                out.push(HEX[h as usize] as char);
                out.push(HEX[l as usize] as char);
            }
            i += 3;
        } else {
            // the target came from a parsed URI or a &str: valid UTF-8 here
            let ch_len = utf8_len(b[i]);
            out.push_str(&target[i..i + ch_len]);
            i += ch_len;
        }
    }
    Ok(out)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

impl Borrow<str> for CacheKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> String {
        CacheKey::from_target(s).unwrap().as_str().to_string()
    }

    #[test]
    fn equivalent_spellings_share_a_key() {
        assert_eq!(k("/%7Euser/a"), "/~user/a");
        assert_eq!(k("/a%2fb"), "/a%2Fb");
        assert_eq!(k("/a%2Fb"), "/a%2Fb");
        assert_eq!(k("/obj/%31"), "/obj/1");
        assert_eq!(k("/obj/1?"), "/obj/1");
    }

    #[test]
    fn query_is_part_of_the_key_in_order() {
        assert_ne!(k("/app.js?v=1"), k("/app.js?v=2"));
        assert_ne!(k("/a?x=1&y=2"), k("/a?y=2&x=1"));
        assert_eq!(CacheKey::from_target("/app.js?v=2").unwrap().path(), "/app.js");
    }

    #[test]
    fn broken_escapes_and_non_paths_are_refused() {
        assert_eq!(CacheKey::from_target("/a%zz"), Err(KeyError::Invalid));
        assert_eq!(CacheKey::from_target("/a%2"), Err(KeyError::Invalid));
        assert_eq!(CacheKey::from_target("*"), Err(KeyError::Invalid));
        let long = format!("/{}", "a".repeat(MAX_KEY_LEN));
        assert_eq!(CacheKey::from_target(&long), Err(KeyError::TooLong));
    }

    #[test]
    fn already_normal_targets_skip_normalisation() {
        assert!(is_normal("/obj/1?x=2"));
        assert!(!is_normal("/a%7E"));
        assert!(!is_normal("/a?"));
    }
}
