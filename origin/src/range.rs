//! `Range` requests (RFC 9110 §14): parsing the header and choosing the
//! byte ranges to send.
//!
//! A header we cannot use (another unit, bad syntax, too many ranges) is
//! ignored and the whole representation is sent, as §14.2 allows. Ranges
//! that overlap or touch are coalesced (§15.3.7.2), in ascending order.

use thiserror::Error;

/// Most range specs accepted in one header; more and the header is ignored.
pub const MAX_RANGES: usize = 64;

/// One element of a `Range: bytes=…` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last`.
    Bounded {
        /// First byte position.
        first: u64,
        /// Last byte position (inclusive).
        last: u64,
    },
    /// `first-`: from `first` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// Why a `Range` header is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RangeError {
    /// The unit is not `bytes`.
    #[error("range unit is not bytes")]
    NotBytes,
    /// The header does not parse.
    #[error("malformed range")]
    Syntax,
    /// More than [`MAX_RANGES`] ranges.
    #[error("too many ranges")]
    TooMany,
}

/// An inclusive byte range within a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Never true: a range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `Content-Range` value for a representation of `total` bytes.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, total)
    }
}

/// What to send for a `Range` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These ranges (one: a plain 206; several: `multipart/byteranges`).
    Ranges(Vec<ByteRange>),
    /// None of the ranges overlaps the representation: 416.
    Unsatisfiable,
}

/// Parses a `Range` header value.
pub fn parse(value: &str) -> Result<Vec<RangeSpec>, RangeError> {
    let (unit, set) = value.trim().split_once('=').ok_or(RangeError::Syntax)?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Err(RangeError::NotBytes);
    }
    let mut specs = Vec::new();
    // A list may carry empty elements (RFC 9110 §5.6.1); they are skipped.
    for elem in set.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if specs.len() == MAX_RANGES {
            return Err(RangeError::TooMany);
        }
        let (first, last) = elem.split_once('-').ok_or(RangeError::Syntax)?;
        let spec = match (first.trim(), last.trim()) {
            ("", "") => return Err(RangeError::Syntax),
            ("", n) => RangeSpec::Suffix(number(n)?),
            (f, "") => RangeSpec::From(number(f)?),
            (f, l) => {
                let (first, last) = (number(f)?, number(l)?);
                if last < first {
                    return Err(RangeError::Syntax);
                }
                RangeSpec::Bounded { first, last }
            }
        };
        specs.push(spec);
    }
    if specs.is_empty() {
        return Err(RangeError::Syntax);
    }
    Ok(specs)
}

fn number(s: &str) -> Result<u64, RangeError> {
    // `u64::from_str` would also take a leading `+`.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::Syntax);
    }
    s.parse().map_err(|_| RangeError::Syntax)
}

/// The ranges of `specs` that fall within a representation of `len`
/// bytes, clamped, sorted and coalesced.
pub fn select(specs: &[RangeSpec], len: u64) -> Selection {
    let mut ranges: Vec<ByteRange> = specs
        .iter()
        .filter_map(|s| match *s {
            RangeSpec::Bounded { first, last } if first < len => {
                Some(ByteRange { start: first, end: last.min(len - 1) })
            }
            RangeSpec::From(first) if first < len => Some(ByteRange { start: first, end: len - 1 }),
            RangeSpec::Suffix(n) if n > 0 && len > 0 => Some(ByteRange { start: len - n.min(len), end: len - 1 }),
            _ => None,
        })
        .collect();
    if ranges.is_empty() {
        return Selection::Unsatisfiable;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(m) if r.start <= m.end.saturating_add(1) => m.end = m.end.max(r.end),
            _ => merged.push(r),
        }
    }
    Selection::Ranges(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn br(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    fn sel(h: &str, len: u64) -> Selection {
        select(&parse(h).unwrap(), len)
    }

    #[test]
    fn a_bounded_range_is_clamped_to_the_length() {
        assert_eq!(parse("bytes=0-99").unwrap(), vec![RangeSpec::Bounded { first: 0, last: 99 }]);
        assert_eq!(sel("bytes=0-99", 1000), Selection::Ranges(vec![br(0, 99)]));
        assert_eq!(sel("bytes=900-5000", 1000), Selection::Ranges(vec![br(900, 999)]));
        assert_eq!(sel("BYTES = 5-5", 10), Selection::Ranges(vec![br(5, 5)]));
    }

    #[test]
    fn a_suffix_range_takes_the_last_bytes() {
        assert_eq!(parse("bytes=-500").unwrap(), vec![RangeSpec::Suffix(500)]);
        assert_eq!(sel("bytes=-500", 1000), Selection::Ranges(vec![br(500, 999)]));
        // A suffix longer than the representation is all of it.
        assert_eq!(sel("bytes=-5000", 1000), Selection::Ranges(vec![br(0, 999)]));
    }

    #[test]
    fn an_open_range_runs_to_the_end() {
        assert_eq!(parse("bytes=10-").unwrap(), vec![RangeSpec::From(10)]);
        assert_eq!(sel("bytes=10-", 100), Selection::Ranges(vec![br(10, 99)]));
    }

    #[test]
    fn multiple_ranges_stay_separate_when_apart() {
        assert_eq!(sel("bytes=0-9, 20-29,-5", 100), Selection::Ranges(vec![br(0, 9), br(20, 29), br(95, 99)]));
        // Empty list elements are allowed.
        assert_eq!(sel("bytes=0-9,,20-29", 100), Selection::Ranges(vec![br(0, 9), br(20, 29)]));
    }

    #[test]
    fn overlapping_and_adjacent_ranges_are_coalesced_in_order() {
        assert_eq!(sel("bytes=50-99,0-60", 200), Selection::Ranges(vec![br(0, 99)]));
        assert_eq!(sel("bytes=0-9,10-19", 100), Selection::Ranges(vec![br(0, 19)]));
        assert_eq!(sel("bytes=30-39,0-9,5-7", 100), Selection::Ranges(vec![br(0, 9), br(30, 39)]));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(sel("bytes=1000-", 1000), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=2000-3000,1000-1001", 1000), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=-0", 1000), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=0-0", 0), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=-5", 0), Selection::Unsatisfiable);
        // One satisfiable range is enough.
        assert_eq!(sel("bytes=2000-,0-0", 1000), Selection::Ranges(vec![br(0, 0)]));
    }

    #[test]
    fn garbage_is_refused() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=+1-2",
            "bytes=1-2-3",
            "bytes=0x1-",
            "bytes=99999999999999999999-",
            "bytes=1 2-3",
        ] {
            assert_eq!(parse(h), Err(RangeError::Syntax), "{h:?}");
        }
        assert_eq!(parse("items=0-1"), Err(RangeError::NotBytes));
        let many = format!("bytes={}", vec!["1-2"; MAX_RANGES + 1].join(","));
        assert_eq!(parse(&many), Err(RangeError::TooMany));
    }

    #[test]
    fn content_range_names_the_total() {
        assert_eq!(br(0, 9).content_range(100), "bytes 0-9/100");
        assert_eq!(br(0, 9).len(), 10);
    }
}
