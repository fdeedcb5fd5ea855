//! A stored response's head in the one form the edge keeps it: the
//! HTTP/1.1 status line and header lines, ready to write (`HTTP/1.1 200
//! OK\r\nname: value\r\n…`, without the blank line), in one allocation of
//! exactly its size.
//!
//! Why one block and no `HeaderMap`: a map costs ~112 bytes a slot plus
//! its index (a demo response's two maps, stored and hit headers, were
//! 3.6 KiB; for a 512-byte object they were five times the body:
//! docs/memory.md). The raw hit path writes the block as it is; the other
//! paths (conditionals, ranges, hyper's hit path, revalidation, slices)
//! read single fields from it or build a map on demand whose values are
//! slices of the block (no copy of the bytes).
//!
//! Names are lowercase (they come from `HeaderName`s), values never hold
//! CR or LF (`HeaderValue` refuses them), so each line splits at its first
//! `": "` and the block is its own index.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// The status line and header lines of a stored response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head(Bytes);

impl Head {
    /// The head of a `status` response with `headers` (in their order,
    /// repeated fields as repeated lines).
    pub fn new(status: StatusCode, headers: &HeaderMap) -> Head {
        Head::with_body(status, headers, &[]).0
    }

    /// The head, and the body (its parts in order) right after it in the
    /// same allocation; the body is a slice of that one buffer. A small
    /// stored object is then one allocation and one shared `Bytes` header
    /// instead of two of each (docs/memory.md); the hit path still writes
    /// two `Bytes`, neither copied.
    pub fn with_body(status: StatusCode, headers: &HeaderMap, body: &[Bytes]) -> (Head, Bytes) {
        let reason = status.canonical_reason().unwrap_or("");
        let len = 9 + 3 + 1 + reason.len() + 2 + fields_len(headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
        let mut b = BytesMut::with_capacity(len + body.iter().map(Bytes::len).sum::<usize>());
        b.extend_from_slice(b"HTTP/1.1 ");
        b.extend_from_slice(status.as_str().as_bytes());
        b.extend_from_slice(b" ");
        b.extend_from_slice(reason.as_bytes());
        b.extend_from_slice(b"\r\n");
        for (n, v) in headers {
            push_field(&mut b, n.as_str().as_bytes(), v.as_bytes());
        }
        debug_assert_eq!(b.len(), len);
        if body.iter().all(Bytes::is_empty) {
            return (Head(b.freeze()), Bytes::new());
        }
        for c in body {
            b.extend_from_slice(c);
        }
        let mut all = b.freeze();
        let head = all.split_to(len);
        (Head(head), all)
    }

    /// The head in a buffer of its own: kept without its body (the meta
    /// entry of an object sliced for disk), a head built by
    /// [`Head::with_body`] would hold the whole body's buffer.
    pub fn detached(&self) -> Head {
        Head(Bytes::copy_from_slice(&self.0))
    }

    /// Whether `body` lies right after this head in one buffer (built by
    /// [`Head::with_body`]): the two then cost one allocation.
    pub fn precedes(&self, body: &Bytes) -> bool {
        !self.0.is_empty() && !body.is_empty() && self.0.as_ptr().wrapping_add(self.0.len()) == body.as_ptr()
    }

    /// The status line (without CRLF) and the fields, checked: every name
    /// a valid lowercase field name, every value a valid field value. For
    /// entries read back from disk; `None` if any field is not.
    pub fn from_fields<'a>(
        status: StatusCode,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    ) -> Option<Head> {
        let reason = status.canonical_reason().unwrap_or("");
        let mut len = 9 + 3 + 1 + reason.len() + 2;
        for (n, v) in fields.clone() {
            let name = HeaderName::from_bytes(n).ok()?;
            if name.as_str().as_bytes() != n || !v.iter().all(|&c| valid_value_byte(c)) {
                return None;
            }
            len += n.len() + 2 + v.len() + 2;
        }
        let mut b = BytesMut::with_capacity(len);
        b.extend_from_slice(b"HTTP/1.1 ");
        b.extend_from_slice(status.as_str().as_bytes());
        b.extend_from_slice(b" ");
        b.extend_from_slice(reason.as_bytes());
        b.extend_from_slice(b"\r\n");
        for (n, v) in fields {
            push_field(&mut b, n, v);
        }
        Some(Head(b.freeze()))
    }

    /// The whole block: status line and header lines, each ending in CRLF.
    pub fn block(&self) -> &[u8] {
        &self.0
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no head at all (a default value).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields in order, as (name, value) byte slices.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        self.lines().map(|(n, v)| (&self.0[n], &self.0[v]))
    }

    /// Every field as spans of the block (name, value).
    fn lines(&self) -> impl Iterator<Item = (std::ops::Range<usize>, std::ops::Range<usize>)> + Clone + '_ {
        let b = &self.0[..];
        let first = b.windows(2).position(|w| w == b"\r\n").map_or(b.len(), |p| p + 2);
        let mut at = first;
        std::iter::from_fn(move || {
            if at >= b.len() {
                return None;
            }
            let end = b[at..].windows(2).position(|w| w == b"\r\n").map_or(b.len(), |p| at + p);
            let line = at..end;
            at = end + 2;
            let colon = b[line.clone()].iter().position(|&c| c == b':')? + line.start;
            let value_start = (colon + 2).min(line.end);
            Some((line.start..colon, value_start..line.end))
        })
    }

    /// The first value of field `name` (lowercase).
    pub fn get(&self, name: &str) -> Option<HeaderValue> {
        self.lines()
            .find(|(n, _)| &self.0[n.clone()] == name.as_bytes())
            .and_then(|(_, v)| HeaderValue::from_maybe_shared(self.0.slice(v)).ok())
    }

    /// The fields as a map; the values are slices of the block (no copy).
    pub fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.lines().count());
        for (n, v) in self.lines() {
            let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(&self.0[n]), HeaderValue::from_maybe_shared(self.0.slice(v)))
            else {
                continue; // cannot happen: the block was built from a map or checked
            };
            map.append(name, value);
        }
        map
    }
}

/// Bytes the fields take as header lines.
fn fields_len<'a>(fields: impl Iterator<Item = (&'a str, &'a [u8])>) -> usize {
    fields.map(|(n, v)| n.len() + 2 + v.len() + 2).sum()
}

fn push_field(b: &mut BytesMut, name: &[u8], value: &[u8]) {
    b.extend_from_slice(name);
    b.extend_from_slice(b": ");
    b.extend_from_slice(value);
    b.extend_from_slice(b"\r\n");
}

/// What `HeaderValue` accepts: visible ASCII, space, tab, obs-text.
fn valid_value_byte(c: u8) -> bool {
    c == b'\t' || (c >= 0x20 && c != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(*n, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn the_block_is_the_status_line_and_the_fields_in_order() {
        let h = map(&[("content-type", "text/plain"), ("x-multi", "a"), ("x-multi", "b"), ("x-empty", "")]);
        let head = Head::new(StatusCode::OK, &h);
        assert_eq!(
            std::str::from_utf8(head.block()).unwrap(),
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-multi: a\r\nx-multi: b\r\nx-empty: \r\n"
        );
        assert_eq!(head.to_map(), h);
        assert_eq!(head.get("x-multi").unwrap(), "a");
        assert_eq!(head.get("x-empty").unwrap(), "");
        assert!(head.get("etag").is_none());
        let fields: Vec<(&[u8], &[u8])> = head.fields().collect();
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[3], (&b"x-empty"[..], &b""[..]));
    }

    #[test]
    fn the_block_holds_exactly_its_bytes_and_values_are_slices_of_it() {
        let h = map(&[("etag", "\"x\""), ("content-length", "5")]);
        let head = Head::new(StatusCode::NOT_FOUND, &h);
        assert!(head.block().starts_with(b"HTTP/1.1 404 Not Found\r\n"));
        let m = head.to_map();
        let v = m.get("etag").unwrap().as_bytes().as_ptr() as usize;
        let b = head.block().as_ptr() as usize;
        assert!((b..b + head.len()).contains(&v), "the value points into the block");
        drop(m);
        let owned = head.0.try_into_mut().expect("unique");
        assert_eq!(owned.capacity(), owned.len(), "exact size");
    }

    #[test]
    fn fields_from_disk_are_checked() {
        let ok: Vec<(&[u8], &[u8])> = vec![(b"etag", b"\"a\""), (b"x-y", b"")];
        let head = Head::from_fields(StatusCode::OK, ok.into_iter()).unwrap();
        assert_eq!(head.get("etag").unwrap(), "\"a\"");
        for bad in [(&b"Upper"[..], &b"v"[..]), (b"a b", b"v"), (b"", b"v"), (b"x", b"a\r\nb"), (b"x", b"\0")] {
            assert!(Head::from_fields(StatusCode::OK, std::iter::once(bad)).is_none(), "{bad:?}");
        }
    }

    /// A stored object's head and body are one buffer: the same head block
    /// as alone, the body's parts in order right after it.
    #[test]
    fn head_and_body_are_one_buffer() {
        let h = map(&[("content-type", "text/plain"), ("etag", "\"x\"")]);
        let parts = [Bytes::from_static(b"hello "), Bytes::from_static(b"world")];
        let (head, body) = Head::with_body(StatusCode::OK, &h, &parts);
        assert_eq!(head, Head::new(StatusCode::OK, &h));
        assert_eq!(&body[..], b"hello world");
        assert!(head.precedes(&body));
        assert_eq!(head.block().as_ptr().wrapping_add(head.len()), body.as_ptr());
        // Built apart, they are two buffers; an empty body is none.
        assert!(!Head::new(StatusCode::OK, &h).precedes(&body));
        let (alone, empty) = Head::with_body(StatusCode::OK, &h, &[]);
        assert!(empty.is_empty() && !alone.precedes(&empty));
    }
}
