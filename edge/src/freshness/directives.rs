//! `Cache-Control`-style directive lists (RFC 9111 §5.2), parsed robustly:
//! names are case-insensitive, whitespace is optional, values may be tokens
//! or quoted strings (with `\` escapes and commas inside), several header
//! lines are one list, and unknown directives are kept but mean nothing.

use http::HeaderValue;

/// Largest delta-seconds value; bigger values (and overflows) mean this
/// (RFC 9111 §1.2.2).
pub const DELTA_MAX: u64 = 2_147_483_648;

/// A parsed directive list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    items: Vec<(String, Option<String>)>,
}

/// A delta-seconds directive value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    /// A valid value, capped at [`DELTA_MAX`].
    Secs(u64),
    /// Present but not a non-negative integer (or given twice, differently).
    Invalid,
}

impl Directives {
    /// Parses every line of a header field as one list.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> Directives {
        let mut d = Directives::default();
        for v in values {
            // Non-ASCII bytes cannot be part of a directive name; parse the
            // rest as Latin-1 so quoted values survive.
            let s: String = v.as_bytes().iter().map(|&b| b as char).collect();
            parse_into(&s, &mut d.items);
        }
        d
    }

    /// Parses one string (tests, config).
    pub fn parse_str(s: &str) -> Directives {
        let mut d = Directives::default();
        parse_into(s, &mut d.items);
        d
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether directive `name` (lowercase) is present.
    pub fn has(&self, name: &str) -> bool {
        self.items.iter().any(|(n, _)| n == name)
    }

    /// The value of the first occurrence of `name`, if it has one.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.items.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    /// A delta-seconds directive: `None` when absent. A value that is not a
    /// non-negative integer, a missing value, or two occurrences with
    /// different values are [`Delta::Invalid`] (RFC 9111 §4.2.1 lets a cache
    /// treat such freshness information as stale).
    pub fn delta(&self, name: &str) -> Option<Delta> {
        let mut found: Option<Delta> = None;
        for (n, v) in &self.items {
            if n != name {
                continue;
            }
            let this = v.as_deref().map_or(Delta::Invalid, parse_delta);
            found = match found {
                None => Some(this),
                Some(prev) if prev == this => Some(prev),
                Some(_) => Some(Delta::Invalid),
            };
        }
        found
    }

    /// A delta-seconds directive that may appear without a value
    /// (`max-stale`): `Some(None)` when present without a value.
    pub fn optional_delta(&self, name: &str) -> Option<Option<Delta>> {
        let (_, v) = self.items.iter().find(|(n, _)| n == name)?;
        Some(v.as_deref().map(parse_delta))
    }

    /// Field names listed in a qualified directive (`no-cache="a, b"`),
    /// lowercase; `Some(vec![])` when the directive has no value.
    pub fn field_names(&self, name: &str) -> Option<Vec<String>> {
        let (_, v) = self.items.iter().find(|(n, _)| n == name)?;
        Some(
            v.as_deref()
                .map(|v| v.split(',').map(|f| f.trim().to_ascii_lowercase()).filter(|f| !f.is_empty()).collect())
                .unwrap_or_default(),
        )
    }

    /// The directives as (name, value) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.items.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }
}

fn parse_delta(v: &str) -> Delta {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Delta::Invalid;
    }
    // Overlong numbers saturate instead of failing.
    let n = v.bytes().fold(0u64, |acc, b| acc.saturating_mul(10).saturating_add(u64::from(b - b'0')));
    Delta::Secs(n.min(DELTA_MAX))
}

fn parse_into(s: &str, out: &mut Vec<(String, Option<String>)>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // skip separators and whitespace
        while i < b.len() && matches!(b[i], b',' | b' ' | b'\t') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b',' | b'=' | b' ' | b'\t' | b';') {
            i += 1;
        }
        let name = s[start..i].to_ascii_lowercase();
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        let mut value = None;
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && matches!(b[i], b' ' | b'\t') {
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut v = String::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    v.push(b[i] as char);
                    i += 1;
                }
                i += 1; // closing quote (or end)
                value = Some(v);
            } else {
                let vs = i;
                while i < b.len() && !matches!(b[i], b',' | b' ' | b'\t') {
                    i += 1;
                }
                value = Some(s[vs..i].to_string());
            }
        }
        // anything else up to the next comma is junk (`max-age=5 junk`)
        while i < b.len() && b[i] != b',' {
            i += 1;
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Directives {
        Directives::parse_str(s)
    }

    #[test]
    fn names_are_case_insensitive_and_whitespace_optional() {
        let x = d("  Public ,MAX-AGE = 60,no-transform");
        assert!(x.has("public") && x.has("no-transform"));
        assert_eq!(x.delta("max-age"), Some(Delta::Secs(60)));
    }

    #[test]
    fn quoted_values_keep_commas_and_escapes() {
        let x = d(r#"no-cache="set-cookie, x-a", private="a\"b", max-age="30""#);
        assert_eq!(x.field_names("no-cache"), Some(vec!["set-cookie".to_string(), "x-a".to_string()]));
        assert_eq!(x.value("private"), Some("a\"b"));
        assert_eq!(x.delta("max-age"), Some(Delta::Secs(30)));
    }

    #[test]
    fn invalid_and_conflicting_deltas_are_invalid() {
        assert_eq!(d("max-age=abc").delta("max-age"), Some(Delta::Invalid));
        assert_eq!(d("max-age=-1").delta("max-age"), Some(Delta::Invalid));
        assert_eq!(d("max-age=1.5").delta("max-age"), Some(Delta::Invalid));
        assert_eq!(d("max-age").delta("max-age"), Some(Delta::Invalid));
        assert_eq!(d("max-age=5, max-age=10").delta("max-age"), Some(Delta::Invalid));
        assert_eq!(d("max-age=5, max-age=5").delta("max-age"), Some(Delta::Secs(5)));
        assert_eq!(d("public").delta("max-age"), None);
    }

    #[test]
    fn huge_deltas_saturate_at_2_pow_31() {
        assert_eq!(d("max-age=99999999999999999999999").delta("max-age"), Some(Delta::Secs(DELTA_MAX)));
    }

    #[test]
    fn several_lines_are_one_list_and_junk_is_skipped() {
        let a = HeaderValue::from_static("max-age=10 junk");
        let b = HeaderValue::from_static("must-revalidate,,, ");
        let x = Directives::parse([&a, &b]);
        assert_eq!(x.delta("max-age"), Some(Delta::Secs(10)));
        assert!(x.has("must-revalidate"));
        assert_eq!(x.iter().count(), 2);
    }

    #[test]
    fn max_stale_without_value_is_unbounded() {
        assert_eq!(d("max-stale").optional_delta("max-stale"), Some(None));
        assert_eq!(d("max-stale=5").optional_delta("max-stale"), Some(Some(Delta::Secs(5))));
        assert_eq!(d("").optional_delta("max-stale"), None);
    }
}
