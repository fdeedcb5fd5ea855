//! Human-friendly units in world and scenario files: byte sizes (`"24KiB"`)
//! and durations (`"250ms"`, `"1h"`). Both also accept a plain integer
//! (bytes, or seconds).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A number of bytes. Parses `"512"`, `"24KiB"`, `"1.5 MiB"`, `"10GB"`
/// (binary `KiB/MiB/GiB/TiB` are powers of 1024, decimal `kB/KB/MB/GB/TB`
/// powers of 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
    /// Shorthand for `ByteSize(n * 1024)`.
    pub const fn kib(n: u64) -> Self {
        Self(n * 1024)
    }
    /// Shorthand for `ByteSize(n * 1024 * 1024)`.
    pub const fn mib(n: u64) -> Self {
        Self(n * 1024 * 1024)
    }
}

/// Parses a byte size; see [`ByteSize`].
pub fn parse_bytes(s: &str) -> Result<ByteSize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("`{s}` is not a byte size (try \"24KiB\" or \"8MiB\")"));
    }
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "TiB" | "T" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!("unknown byte unit `{other}` in `{s}` (use B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)"));
        }
    };
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult).map(ByteSize).ok_or_else(|| format!("`{s}` is too large"));
    }
    let f: f64 = num.parse().map_err(|_| format!("`{s}` is not a byte size"))?;
    let v = f * mult as f64;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(ByteSize(v.round() as u64))
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (name, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        for (name, size) in UNITS {
            if self.0 >= size {
                return write!(f, "{:.1}{name}", self.0 as f64 / size as f64);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte size such as \"24KiB\" or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| E::custom("a byte size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_bytes(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration. Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"`, `"1.5s"`,
/// `"0"`; a bare integer is seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    /// Shorthand for a whole number of seconds.
    pub const fn secs(n: u64) -> Self {
        Self(Duration::from_secs(n))
    }
    /// Shorthand for a whole number of milliseconds.
    pub const fn millis(n: u64) -> Self {
        Self(Duration::from_millis(n))
    }
}

impl From<Dur> for Duration {
    fn from(d: Dur) -> Duration {
        d.0
    }
}

/// Parses a duration; see [`Dur`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 =
        num.parse().map_err(|_| format!("`{s}` is not a duration (try \"250ms\", \"30s\", \"5m\", \"1h\")"))?;
    let secs = match unit.trim() {
        "" if n == 0.0 => 0.0,
        "" | "s" | "sec" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        other => {
            return Err(format!("unknown time unit `{other}` in `{s}` (use ms, s, m, h, d)"));
        }
    };
    if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) || ms == 0 { write!(f, "{ms}ms") } else { write!(f, "{}s", ms / 1000) }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"250ms\" or \"30s\", or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|v| Dur(Duration::from_secs(v)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                parse_duration(&v.to_string()).map(Dur).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A link's bandwidth in bits per second. Parses `"100Mbit"`, `"1Gbit/s"`,
/// `"10Mbps"`, `"56kbit"`, `"1000000"` (bits per second) and `"unlimited"`
/// (decimal prefixes, as line rates are quoted: 1 Mbit = 10⁶ bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bandwidth(pub u64);

impl Bandwidth {
    /// No bandwidth limit: transfers are bound by round trips alone.
    pub const UNLIMITED: Bandwidth = Bandwidth(u64::MAX);

    /// Shorthand for `n` megabits per second.
    pub const fn mbit(n: u64) -> Self {
        Self(n * 1_000_000)
    }

    /// Whether this is [`Bandwidth::UNLIMITED`].
    pub fn is_unlimited(self) -> bool {
        self == Self::UNLIMITED
    }

    /// Bytes per second (infinite when unlimited).
    pub fn bytes_per_sec(self) -> f64 {
        if self.is_unlimited() { f64::INFINITY } else { self.0 as f64 / 8.0 }
    }
}

/// Parses a bandwidth; see [`Bandwidth`].
pub fn parse_bandwidth(s: &str) -> Result<Bandwidth, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("unlimited") {
        return Ok(Bandwidth::UNLIMITED);
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let unit = unit.strip_suffix("/s").or_else(|| unit.strip_suffix("ps")).unwrap_or(unit);
    let mult: f64 = match unit {
        "" | "bit" | "b" => 1.0,
        "kbit" | "Kbit" | "kb" | "Kb" => 1e3,
        "Mbit" | "Mb" => 1e6,
        "Gbit" | "Gb" => 1e9,
        "Tbit" | "Tb" => 1e12,
        other => {
            return Err(format!(
                "unknown bandwidth unit `{other}` in `{s}` (use bit, kbit, Mbit, Gbit, Tbit, optionally /s, or \"unlimited\")"
            ));
        }
    };
    let f: f64 = num.parse().map_err(|_| format!("`{s}` is not a bandwidth (try \"100Mbit\" or \"1Gbit\")"))?;
    let v = (f * mult).round();
    if !v.is_finite() || v < 0.0 || v >= u64::MAX as f64 {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Bandwidth(v as u64))
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unlimited() {
            return f.write_str("unlimited");
        }
        const UNITS: [(&str, u64); 4] =
            [("Tbit", 1_000_000_000_000), ("Gbit", 1_000_000_000), ("Mbit", 1_000_000), ("kbit", 1_000)];
        for (name, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        write!(f, "{}bit", self.0)
    }
}

impl Serialize for Bandwidth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Bandwidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bandwidth;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bandwidth such as \"100Mbit\" or \"1Gbit\", or \"unlimited\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bandwidth, E> {
                Ok(Bandwidth(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bandwidth, E> {
                u64::try_from(v).map(Bandwidth).map_err(|_| E::custom("a bandwidth cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bandwidth, E> {
                parse_bandwidth(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_binary_and_decimal_units() {
        assert_eq!(parse_bytes("512").unwrap().0, 512);
        assert_eq!(parse_bytes("24KiB").unwrap().0, 24 * 1024);
        assert_eq!(parse_bytes("1.5 MiB").unwrap().0, 3 * 512 * 1024);
        assert_eq!(parse_bytes("10GB").unwrap().0, 10_000_000_000);
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("KiB").is_err());
        assert!(parse_bytes("99999999999999999999TiB").is_err());
    }

    #[test]
    fn byte_sizes_display_round_trips() {
        for s in ["24KiB", "8MiB", "1GiB", "100B"] {
            assert_eq!(parse_bytes(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn durations_parse_every_unit() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn bandwidths_parse_decimal_bit_units() {
        assert_eq!(parse_bandwidth("100Mbit").unwrap(), Bandwidth(100_000_000));
        assert_eq!(parse_bandwidth("1Gbit/s").unwrap(), Bandwidth(1_000_000_000));
        assert_eq!(parse_bandwidth("10 Mbps").unwrap(), Bandwidth(10_000_000));
        assert_eq!(parse_bandwidth("56kbit").unwrap(), Bandwidth(56_000));
        assert_eq!(parse_bandwidth("1.5Mbit").unwrap(), Bandwidth(1_500_000));
        assert_eq!(parse_bandwidth("2000").unwrap(), Bandwidth(2000));
        assert!(parse_bandwidth("unlimited").unwrap().is_unlimited());
        assert!(parse_bandwidth("100MB").is_err(), "bytes are not a bandwidth unit");
        assert!(parse_bandwidth("fast").is_err());
        assert!(parse_bandwidth("-1Mbit").is_err());
        for s in ["100Mbit", "1Gbit", "56kbit", "1500bit", "unlimited"] {
            assert_eq!(parse_bandwidth(s).unwrap().to_string(), s);
        }
        assert_eq!(Bandwidth::mbit(100).bytes_per_sec(), 12_500_000.0);
    }
}
