//! Cache policies by name, and the what-if (shadow) caches an edge keeps.
//!
//! [`Kind`] names the online eviction policies the trace lab models
//! (`cachesim` implements them, `cdn replay` runs them offline); it lives
//! here so that a world file can name them too: an edge's `shadow` setting
//! is a list of [`ShadowCache`]s (`"sieve:256MiB"`), metadata-only caches
//! of another policy and size fed the edge's own traffic (docs/traces.md,
//! "Shadow caches").

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::units::{ByteSize, parse_bytes};

/// The online policies by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// Least recently used.
    Lru,
    /// First in, first out.
    Fifo,
    /// CLOCK, one reference bit.
    Clock,
    /// SIEVE.
    Sieve,
    /// S3-FIFO.
    S3Fifo,
    /// LFU (in-cache counts).
    Lfu,
    /// Window TinyLFU.
    WTinyLfu,
}

impl Kind {
    /// Every online policy.
    pub const ALL: [Kind; 7] =
        [Kind::Lru, Kind::Fifo, Kind::Clock, Kind::Sieve, Kind::S3Fifo, Kind::Lfu, Kind::WTinyLfu];

    /// The name used on the command line, in world files and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lru => "lru",
            Kind::Fifo => "fifo",
            Kind::Clock => "clock",
            Kind::Sieve => "sieve",
            Kind::S3Fifo => "s3fifo",
            Kind::Lfu => "lfu",
            Kind::WTinyLfu => "wtinylfu",
        }
    }

    /// The policy of a name (case-insensitive; `s3-fifo`, `w-tinylfu` accepted).
    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.to_ascii_lowercase().replace(['-', '_'], "");
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One what-if cache of an edge: a policy and a capacity in bytes, written
/// `"policy:size"` (`"lru:64MiB"`, `"s3fifo:1GiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShadowCache {
    /// The eviction policy.
    pub policy: Kind,
    /// Capacity, bytes of objects (as in `cdn replay`: metadata not counted).
    pub capacity: ByteSize,
}

impl ShadowCache {
    /// Parses `"policy:size"`.
    pub fn parse(s: &str) -> Result<ShadowCache, String> {
        let names = || Kind::ALL.map(Kind::as_str).join(", ");
        let Some((p, size)) = s.split_once(':') else {
            return Err(format!("shadow cache `{s}` is not `policy:size` (like \"sieve:256MiB\")"));
        };
        let policy = Kind::parse(p.trim())
            .ok_or_else(|| format!("unknown policy `{}` in shadow cache `{s}` (one of {})", p.trim(), names()))?;
        let capacity = parse_bytes(size)?;
        if capacity.0 == 0 {
            return Err(format!("shadow cache `{s}` has no capacity"));
        }
        Ok(ShadowCache { policy, capacity })
    }
}

impl fmt::Display for ShadowCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.policy, self.capacity)
    }
}

impl Serialize for ShadowCache {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ShadowCache {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ShadowCache::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_specs_parse_and_print_back() {
        let c = ShadowCache::parse("S3-FIFO:1GiB").unwrap();
        assert_eq!(c, ShadowCache { policy: Kind::S3Fifo, capacity: ByteSize(1 << 30) });
        assert_eq!(c.to_string(), "s3fifo:1GiB");
        assert_eq!(ShadowCache::parse(&c.to_string()), Ok(c));
        assert!(ShadowCache::parse("lru").unwrap_err().contains("policy:size"));
        assert!(ShadowCache::parse("lirs:1MiB").unwrap_err().contains("unknown policy `lirs`"));
        assert!(ShadowCache::parse("lru:0").unwrap_err().contains("no capacity"));
        assert!(ShadowCache::parse("lru:1XB").is_err());
    }

    #[test]
    fn policy_names() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("W-TinyLFU"), Some(Kind::WTinyLfu));
        assert_eq!(Kind::parse("lirs"), None);
    }
}
