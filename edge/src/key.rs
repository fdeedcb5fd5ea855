//! Cache keys: the canonical request target (path and query). The same
//! string is the key *and* the target the origin is sent, so whatever the
//! origin answers is stored under exactly the request it answered (origins
//! that decode differently cannot make two requests share a key they
//! would tell apart).
//!
//! Canonical form (RFC 3986 §6.2.2, plus refusals):
//! - percent-escapes of unreserved characters are decoded (`%7E` → `~`,
//!   `%31` → `1`), other escapes get uppercase hex (`%2f` → `%2F`); an
//!   encoded slash stays encoded: `/a%2Fb` and `/a/b` are different URLs;
//! - bytes that may not appear in a URI (non-ASCII, space, quotes,
//!   brackets, braces, backslash, caret, backtick, bar) are
//!   percent-encoded as UTF-8, so `/obj/é` and `/obj/%C3%A9` are one
//!   key and the origin gets the second;
//! - dot-segments of the path are removed (`/a/./b/../c` → `/a/c`);
//! - an empty query (`/a?`) is dropped; the query otherwise stays part of
//!   the key, in order, so `/app.js?v=2` is a different object from
//!   `/app.js?v=1` (versioning as an alternative to purging);
//! - refused (400): control characters, an encoded NUL (`%00`), broken
//!   escapes, dot-segments with parameters (`/..;/`, which some servers
//!   resolve as `..`) and dot-segments hidden behind an encoded separator
//!   (`/a/..%2F`, `%5C..`), so no origin can read a traversal into a
//!   target the cache keyed as something else.
//!
//! The host is not part of the key: an edge fronts one origin and sends it
//! the host configured for it ([`crate::headers::to_origin`]).

use std::borrow::Borrow;
use std::fmt;

use http::Uri;

/// Longest accepted request target, bytes (after canonicalisation).
pub const MAX_KEY_LEN: usize = 8 * 1024;

/// A canonical request target: `/path?query`, also what the origin is sent.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

/// Why a request target cannot be a cache key (the client gets 400, or 414
/// for [`KeyError::TooLong`], with this text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Longer than [`MAX_KEY_LEN`].
    #[error("request target longer than {MAX_KEY_LEN} bytes")]
    TooLong,
    /// Not a target the edge forwards; the text says why.
    #[error("request target {0}")]
    Invalid(&'static str),
}

impl CacheKey {
    /// The key for a request URI: origin-form (`/a?b`) or absolute-form
    /// (`http://host/a?b`, whose authority is ignored like `Host`).
    pub fn from_uri(uri: &Uri) -> Result<CacheKey, KeyError> {
        match uri.scheme_str() {
            None if uri.authority().is_some() => return Err(KeyError::Invalid("is not a path (authority-form)")),
            None | Some("http" | "https") => {}
            Some(_) => return Err(KeyError::Invalid("has a scheme other than http or https")),
        }
        let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
        CacheKey::from_target(if pq.is_empty() { "/" } else { pq })
    }

    /// The key for a request target (`/path?query`; a `#fragment` is cut).
    pub fn from_target(target: &str) -> Result<CacheKey, KeyError> {
        if is_normal(target) {
            return Ok(CacheKey(target.to_owned()));
        }
        let target = target.split_once('#').map_or(target, |(t, _)| t);
        if target.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong);
        }
        if !target.starts_with('/') {
            return Err(KeyError::Invalid("is not a path (`/…`)"));
        }
        let c = canonical(target)?;
        if c.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong);
        }
        Ok(CacheKey(c))
    }

    /// The key as a string: also the request target sent to the origin.
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

/// A purge prefix in the form keys have: escapes normalised and unsafe
/// bytes encoded as in [`CacheKey::from_target`], dot-segments and an
/// empty query (`/a?`: "queries only") kept. A trailing incomplete escape
/// (`/a%2`) stays, uppercased, since the keys it prefixes complete it.
pub fn prefix_form(prefix: &str) -> Result<String, KeyError> {
    if prefix.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong);
    }
    let b = prefix.as_bytes();
    let cut = match b {
        [.., b'%'] => b.len() - 1,
        [.., b'%', h] if hex(*h).is_some() => b.len() - 2,
        _ => b.len(),
    };
    let (body, tail) = prefix.split_at(cut);
    let mut out = String::with_capacity(prefix.len() + 8);
    escapes(body, &mut out)?;
    out.push_str(&tail.to_ascii_uppercase());
    Ok(out)
}

/// The unreserved and sub-delim bytes of RFC 3986.
pub(crate) const UNRESERVED_AND_SUB_DELIMS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=";

/// A lookup table of the bytes in `a` and `b`.
pub(crate) const fn byte_set(a: &[u8], b: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < a.len() {
        t[a[i] as usize] = true;
        i += 1;
    }
    let mut i = 0;
    while i < b.len() {
        t[b[i] as usize] = true;
        i += 1;
    }
    t
}

/// Bytes that stand for themselves in a canonical target: unreserved,
/// sub-delims, `:`, `@`, `/` and `?` (RFC 3986 pchar, without `%`).
const PLAIN: [bool; 256] = byte_set(UNRESERVED_AND_SUB_DELIMS, b":@/?");

/// Whether `target` is already canonical, so the hit paths can look it up
/// as it is, without building a key. `is_normal(t)` implies that
/// `CacheKey::from_target(t)` is `t` (tested below, and by property).
/// One pass over the bytes; dot-segments are looked for only where a
/// `.` follows a `/`.
#[inline]
pub fn is_normal(target: &str) -> bool {
    let b = target.as_bytes();
    if b.len() > MAX_KEY_LEN || b.first() != Some(&b'/') || b.last() == Some(&b'?') {
        return false;
    }
    for (i, &c) in b.iter().enumerate() {
        if !PLAIN[c as usize] {
            return false;
        }
        if c == b'?' {
            return b[i + 1..].iter().all(|&c| PLAIN[c as usize]);
        }
        if c == b'/' && b.get(i + 1) == Some(&b'.') {
            let seg = &b[i + 1..];
            let end = seg.iter().position(|&c| c == b'/' || c == b'?').unwrap_or(seg.len());
            if dotty(&seg[..end]) {
                return false;
            }
        }
    }
    true
}

/// A dot-segment, or one with parameters (`..;x`), which some servers
/// resolve as `..`.
#[inline]
fn dotty(seg: &[u8]) -> bool {
    matches!(seg, [b'.'] | [b'.', b'.'] | [b'.', b';', ..] | [b'.', b'.', b';', ..])
}

/// The canonical form of a target that starts with `/` (see the module).
fn canonical(target: &str) -> Result<String, KeyError> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut out = String::with_capacity(target.len() + 8);
    escapes(path, &mut out)?;
    let mut out = remove_dot_segments(out)?;
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        escapes(q, &mut out)?;
    }
    Ok(out)
}

/// Appends `s` to `out` with escapes normalised and other bytes encoded.
fn escapes(s: &str, out: &mut String) -> Result<(), KeyError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let (h, l) = match (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => (h, l),
                _ => return Err(KeyError::Invalid("has a broken percent-escape")),
            };
            let v = h * 16 + l;
            if v == 0 {
                return Err(KeyError::Invalid("contains an encoded NUL (%00)"));
            }
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(v as char);
            } else {
                push_escape(out, v);
            }
            i += 3;
        } else if c.is_ascii_control() {
            return Err(KeyError::Invalid("contains control characters"));
        } else if PLAIN[c as usize] {
            out.push(c as char);
            i += 1;
        } else {
            push_escape(out, c);
            i += 1;
        }
    }
    Ok(())
}

fn push_escape(out: &mut String, v: u8) {
    out.push('%');
    out.push(HEX[(v >> 4) as usize] as char);
    out.push(HEX[(v & 15) as usize] as char);
}

/// RFC 3986 §5.2.4 on a path with normalised escapes; refuses what would
/// become a dot-segment at an origin that treats `%2F` or `%5C` as a
/// separator, or `..;x` as `..`.
fn remove_dot_segments(path: String) -> Result<String, KeyError> {
    let hidden = |seg: &str| {
        seg.split("%2F").flat_map(|s| s.split("%5C")).any(|s| dotty(s.as_bytes()))
            && (seg.contains("%2F") || seg.contains("%5C"))
    };
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    if segs.iter().any(|s| s.starts_with(".;") || s.starts_with("..;") || hidden(s)) {
        return Err(KeyError::Invalid("has a dot-segment with parameters or behind an encoded slash"));
    }
    if !segs.iter().any(|s| *s == "." || *s == "..") {
        return Ok(path);
    }
    let mut out: Vec<&str> = Vec::with_capacity(segs.len());
    let last = segs.len() - 1;
    for (i, s) in segs.iter().enumerate() {
        match *s {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
        if i == last && (*s == "." || *s == "..") {
            out.push("");
        }
    }
    let mut p = String::with_capacity(path.len());
    for s in out {
        p.push('/');
        p.push_str(s);
    }
    if p.is_empty() {
        p.push('/');
    }
    Ok(p)
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

    fn refused(s: &str) -> bool {
        matches!(CacheKey::from_target(s), Err(KeyError::Invalid(_)))
    }

    #[test]
    fn equivalent_spellings_share_a_key() {
        assert_eq!(k("/%7Euser/a"), "/~user/a");
        assert_eq!(k("/a%2fb"), "/a%2Fb");
        assert_eq!(k("/a%2Fb"), "/a%2Fb");
        assert_eq!(k("/obj/%31"), "/obj/1");
        assert_eq!(k("/obj/1?"), "/obj/1");
        assert_eq!(k("/obj/1#frag"), "/obj/1");
        assert_eq!(k("/q?a=%7e&b=%2f"), "/q?a=~&b=%2F");
    }

    #[test]
    fn raw_non_ascii_and_unsafe_bytes_are_percent_encoded() {
        assert_eq!(k("/obj/é"), "/obj/%C3%A9");
        assert_eq!(k("/obj/%c3%a9"), "/obj/%C3%A9");
        assert_eq!(k("/a b\"{|}\\^`[]"), "/a%20b%22%7B%7C%7D%5C%5E%60%5B%5D");
        assert_eq!(k("/a?x=é y"), "/a?x=%C3%A9%20y");
    }

    #[test]
    fn dot_segments_are_removed_from_the_path_only() {
        assert_eq!(k("/a/./b/../c"), "/a/c");
        assert_eq!(k("/a/b/.."), "/a/");
        assert_eq!(k("/a/b/."), "/a/b/");
        assert_eq!(k("/../../x"), "/x");
        assert_eq!(k("/.."), "/");
        assert_eq!(k("/a//../b"), "/a/b");
        assert_eq!(k("/x/%2E%2e/obj/1"), "/obj/1");
        assert_eq!(k("/a?p=/../b"), "/a?p=/../b");
        assert_eq!(k("/.well-known/x"), "/.well-known/x");
        assert_eq!(k("/a/...b/c"), "/a/...b/c");
    }

    #[test]
    fn traversal_an_origin_might_decode_is_refused() {
        for t in ["/a/..;/b", "/a/.;x/b", "/a/..%2Fb", "/a/b%2F..", "/a%5C..%5Cb", "/a/%2e%2e%2fb", "/a\\..\\b"] {
            assert!(refused(t), "{t}");
        }
        assert_eq!(k("/group%2Fproject/a"), "/group%2Fproject/a");
        assert_eq!(k("/a%2F.hidden"), "/a%2F.hidden");
    }

    #[test]
    fn query_is_part_of_the_key_in_order() {
        assert_ne!(k("/app.js?v=1"), k("/app.js?v=2"));
        assert_ne!(k("/a?x=1&y=2"), k("/a?y=2&x=1"));
        assert_eq!(CacheKey::from_target("/app.js?v=2").unwrap().path(), "/app.js");
    }

    #[test]
    fn broken_escapes_nul_and_non_paths_are_refused() {
        for t in ["/a%zz", "/a%2", "/a%", "*", "a/b", "/a%00b", "/a?x=%00", "/a\u{1}"] {
            assert!(refused(t), "{t}");
        }
        let long = format!("/{}", "a".repeat(MAX_KEY_LEN));
        assert_eq!(CacheKey::from_target(&long), Err(KeyError::TooLong));
        let grows = format!("/{}", "é".repeat(MAX_KEY_LEN / 3));
        assert_eq!(CacheKey::from_target(&grows), Err(KeyError::TooLong), "the limit applies to the encoded form");
    }

    /// Found by `fuzz/fuzz_targets/cache_key.rs`: `/a??` (the query `?`)
    /// was keyed `/a?`, whose own key is `/a`: normalising twice gave
    /// another key.
    #[test]
    fn only_an_empty_query_is_dropped_so_keys_are_their_own_keys() {
        assert_eq!(k("/a??"), "/a??");
        assert_eq!(k("/*/*??"), "/*/*??");
        for t in ["/a?", "/a??", "/a???", "/a?b?", "/%7E??"] {
            assert_eq!(k(&k(t)), k(t), "{t}");
        }
    }

    #[test]
    fn absolute_form_uris_key_on_their_path_and_other_forms_are_refused() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(CacheKey::from_uri(&uri("http://evil.example/a/%31?q")).unwrap().as_str(), "/a/1?q");
        assert_eq!(CacheKey::from_uri(&uri("http://evil.example")).unwrap().as_str(), "/");
        assert!(CacheKey::from_uri(&uri("evil.example:443")).is_err());
        assert!(CacheKey::from_uri(&uri("ftp://evil.example/a")).is_err());
    }

    #[test]
    fn normal_targets_are_their_own_key() {
        for t in ["/obj/1?x=2", "/", "/a/b/", "/.well-known/x", "/a?../b", "/a/..b", "/a;p=1/b", "/a/.../b"] {
            assert!(is_normal(t), "{t}");
            assert_eq!(k(t), t);
        }
        for t in ["/a%7E", "/a?", "/a/./b", "/a/..", "/a/.", "/a/..;/b", "/é", "/a b", "/a#b", "a", "/a/.?x"] {
            assert!(!is_normal(t), "{t}");
        }
    }

    /// A small seeded generator: every target built from tricky pieces is
    /// either refused or canonical, canonicalising again changes nothing,
    /// and `is_normal` agrees with the canonical form.
    #[test]
    fn canonical_form_is_a_fixed_point_for_generated_targets() {
        const PIECES: [&str; 24] = [
            "/", "a", ".", "..", "%2e", "%2E%2e", "%2F", "%2f", "%5C", "%41", "%7e", "é", "%C3%A9", " ", "?", "=", "&",
            ";", "..;", "%00", "%", "%zz", "\\", "~",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut t = String::from("/");
            for _ in 0..(next() % 8) {
                t.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            match CacheKey::from_target(&t) {
                Ok(key) => {
                    let c = key.as_str();
                    assert!(is_normal(c) || c.contains('%') || c.ends_with('?'), "{t:?} → {c:?}");
                    assert_eq!(k(c), c, "{t:?} → {c:?} is a fixed point");
                    assert!(c.parse::<http::uri::PathAndQuery>().is_ok(), "{c:?} is a valid target");
                    if is_normal(&t) {
                        assert_eq!(c, t);
                    }
                }
                Err(_) => assert!(!is_normal(&t), "{t:?}"),
            }
        }
    }
}
