//! The canonical request target (path and query), the form of a cache key
//! and of a purge's URL. The same
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
//! the host configured for it (`edge::headers::to_origin`).
//!
//! Here, in the wire crate, because a purge names its URL in this form
//! ([`crate::purge`]): the edge and the `cdn` CLI check purges alike. The
//! edge's `CacheKey` is a string in this form.

use http::Uri;
use world::uri::{UNRESERVED_AND_SUB_DELIMS, byte_set};

/// Longest accepted request target, bytes (after canonicalisation).
pub const MAX_KEY_LEN: usize = 8 * 1024;

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

/// The request target of a request URI: origin-form (`/a?b`) or
/// absolute-form (`http://host/a?b`, whose authority is ignored like
/// `Host`); not yet canonical.
pub fn uri_target(uri: &Uri) -> Result<&str, KeyError> {
    match uri.scheme_str() {
        None if uri.authority().is_some() => return Err(KeyError::Invalid("is not a path (authority-form)")),
        None | Some("http" | "https") => {}
        Some(_) => return Err(KeyError::Invalid("has a scheme other than http or https")),
    }
    let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
    Ok(if pq.is_empty() { "/" } else { pq })
}

/// The canonical form of a request target (`/path?query`; a `#fragment`
/// is cut): the cache key and what the origin is sent.
pub fn canonical_target(target: &str) -> Result<String, KeyError> {
    if is_normal(target) {
        return Ok(target.to_owned());
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
    Ok(c)
}

/// A purge prefix in the form keys have: escapes normalised and unsafe
/// bytes encoded as in [`canonical_target`], dot-segments and an
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
