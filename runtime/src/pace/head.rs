//! The two facts the pacer reads from the bytes it carries: whether a
//! request is a `HEAD` (its response has no body), and how many bytes a
//! response will take (its head plus `Content-Length`), so that the whole
//! response is planned from its first write. A response whose length the
//! head does not give (chunked, or a head split over writes) is planned
//! as [`UNKNOWN`] bytes and its connection state worked out from the bytes
//! actually sent once it is over.

/// Bytes planned for a response of unknown length: rounds beyond its real
/// end are never used; its last round is cut where the bytes end. Also the
/// most any response is planned for (bytes beyond go unpaced).
pub const UNKNOWN: u64 = 64 * 1024 * 1024;

/// Whether a request starts with the `HEAD` method.
pub fn is_head_request(first: &[u8]) -> bool {
    first.starts_with(b"HEAD ")
}

/// The bytes a response will take on the wire, from the start of its
/// head (`first`: what its first write carries): the head plus its body
/// (`Content-Length`; none for a `HEAD` request, a 1xx, 204 or 304).
/// `None` when the head is not complete in `first` or gives no length.
pub fn response_bytes(first: &[u8], head_request: bool) -> Option<u64> {
    let end = first.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = &first[..end];
    let status = head.get(9..12).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.parse::<u16>().ok())?;
    if (100..200).contains(&status) {
        return None;
    }
    if head_request || status == 204 || status == 304 {
        return Some(end as u64);
    }
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let v = std::str::from_utf8(value).ok()?.trim().parse::<u64>().ok()?;
            return Some(end as u64 + v);
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_its_head_and_content_length() {
        let h = b"HTTP/1.1 200 OK\r\ncontent-type: x\r\nContent-Length: 1000\r\n\r\nbody";
        let head = h.len() as u64 - 4;
        assert_eq!(response_bytes(h, false), Some(head + 1000));
        assert_eq!(response_bytes(h, true), Some(head), "HEAD: no body");
        let nm = b"HTTP/1.1 304 Not Modified\r\ncontent-length: 1000\r\n\r\n";
        assert_eq!(response_bytes(nm, false), Some(nm.len() as u64));
        assert_eq!(response_bytes(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", false), None);
        assert_eq!(response_bytes(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n", false), None, "head not complete");
        assert_eq!(response_bytes(b"HTTP/1.1 100 Continue\r\n\r\n", false), None);
        assert!(is_head_request(b"HEAD /a HTTP/1.1\r\n") && !is_head_request(b"GET /a HTTP/1.1\r\n"));
    }
}
