//! Web server access logs in the Common Log Format and its Combined
//! variant (Apache's `%h %l %u %t "%r" %>s %b`, nginx's default `combined`):
//!
//! ```text
//! 192.0.2.7 - - [10/Oct/2026:13:55:36 -0700] "GET /img/a.png HTTP/1.1" 200 2326 "https://ref/" "Mozilla/5.0"
//! ```
//!
//! The key is a hash of the request target (path and query, as sent), the
//! size is the response bytes (`-`: 0), the client a hash of the first
//! field, the time the bracketed date (its offset applied: UTC). A GET
//! answered 200 with a size is a read; anything else (HEAD, 304, 404, a
//! POST) is [`Op::Other`], which replays skip and count. Blank lines and
//! lines starting with `#` are skipped.

use std::io::BufRead;

use world::rng::hash64;

use super::access_log::civil_ms;
use super::lines::Lines;
use super::{Op, Request, TraceError};

/// Streams the requests of a common or combined log.
pub struct CommonLogReader<R> {
    lines: Lines<R>,
    label: String,
    target: String,
}

impl<R: BufRead> CommonLogReader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R, label: &str) -> Self {
        CommonLogReader { lines: Lines::new(inner, label), label: label.to_string(), target: String::new() }
    }

    /// The request target of the last request read.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// One parsed line: host, time, method, target, status, bytes.
type Fields<'a> = (&'a str, u64, &'a str, &'a str, u16, Option<u64>);

fn parse(line: &str) -> Result<Fields<'_>, (&'static str, String)> {
    let (host, rest) = line.split_once(' ').ok_or(("host", "no fields".to_string()))?;
    let open = rest.find('[').ok_or(("time", "no `[date]`".to_string()))?;
    let close = rest[open..].find(']').ok_or(("time", "no `]` after the date".to_string()))? + open;
    let date = &rest[open + 1..close];
    let time_ms = clf_time(date).ok_or(("time", format!("`{date}` is not a date like 10/Oct/2026:13:55:36 -0700")))?;
    let rest = rest[close + 1..].trim_start();
    let rest = rest.strip_prefix('"').ok_or(("request", "no quoted request".to_string()))?;
    // the request ends at the first quote not escaped with a backslash
    let mut end = None;
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'"' => {
                end = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let end = end.ok_or(("request", "unterminated request".to_string()))?;
    let request = &rest[..end];
    let mut parts = request.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let mut tail = rest[end + 1..].split_ascii_whitespace();
    let status = tail.next().ok_or(("status", "missing".to_string()))?;
    let status: u16 = status.parse().map_err(|_| ("status", format!("`{status}` is not a status")))?;
    let bytes = match tail.next() {
        None | Some("-") => None,
        Some(b) => Some(b.parse::<u64>().map_err(|_| ("bytes", format!("`{b}` is not a size in bytes")))?),
    };
    Ok((host, time_ms, method, target, status, bytes))
}

/// Milliseconds since the Unix epoch of `10/Oct/2026:13:55:36 -0700`.
pub fn clf_time(s: &str) -> Option<u64> {
    let (dt, zone) = s.split_once(' ')?;
    let mut p = dt.splitn(4, [':', '/']);
    let d: u64 = p.next()?.parse().ok()?;
    let mon = p.next()?;
    let y: u64 = p.next()?.parse().ok()?;
    let mut hms = p.next()?.split(':');
    let (h, mi, sec): (u64, u64, u64) =
        (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mo = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))? as u64 + 1;
    let local = civil_ms(y, mo, d, h, mi, sec)? as i64;
    let (sign, z) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if z.len() != 4 || !z.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let offset_min = z[..2].parse::<i64>().ok()? * 60 + z[2..].parse::<i64>().ok()?;
    let utc = local - sign * offset_min * 60_000;
    (utc >= 0).then_some(utc as u64)
}

impl<R: BufRead> Iterator for CommonLogReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (n, line) = match self.lines.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            return Some(match parse(line) {
                Err((field, m)) => Err(TraceError::at(&self.label, "line", n, Some(field), m)),
                Ok((host, time_ms, method, target, status, bytes)) => {
                    self.target.clear();
                    self.target.push_str(target);
                    let read = method == "GET" && status == 200 && bytes.is_some();
                    Ok(Request {
                        time_ms,
                        key: hash64(target.as_bytes()),
                        size: bytes.unwrap_or(0),
                        op: if read { Op::Read } else { Op::Other },
                        ttl: None,
                        client: Some(hash64(host.as_bytes())),
                    })
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"192.0.2.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /img/a.png?x=1 HTTP/1.1" 200 2326 "https://r/" "Mozilla/5.0 \"q\"""#;

    #[test]
    fn common_and_combined_lines_become_requests() {
        let text = format!(
            "{LINE}\n198.51.100.1 - - [10/Oct/2026:20:55:37 +0000] \"HEAD / HTTP/1.1\" 200 -\n\n{}\n",
            LINE.replace(" 200 2326", " 304 0")
        );
        let mut r = CommonLogReader::new(text.as_bytes(), "access.log");
        let a = r.next().unwrap().unwrap();
        assert_eq!((a.key, a.size, a.op), (hash64(b"/img/a.png?x=1"), 2326, Op::Read));
        assert_eq!(r.target(), "/img/a.png?x=1");
        assert_eq!(a.client, Some(hash64(b"192.0.2.7")));
        let b = r.next().unwrap().unwrap();
        assert_eq!(b.op, Op::Other, "a HEAD");
        assert_eq!(b.time_ms - a.time_ms, 1000, "-0700 is seven hours behind UTC");
        assert_eq!(r.next().unwrap().unwrap().op, Op::Other, "a 304");
        assert!(r.next().is_none());
    }

    #[test]
    fn dates_and_bad_lines() {
        assert_eq!(clf_time("01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(clf_time("01/Jan/1970:01:00:00 +0100"), Some(0));
        assert_eq!(clf_time("01/Foo/1970:00:00:00 +0000"), None);
        let got: Vec<_> = CommonLogReader::new(
            "h - - [yesterday] \"GET / HTTP/1.1\" 200 1\nh - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" x 1\n"
                .as_bytes(),
            "a.log",
        )
        .collect();
        assert!(got[0].as_ref().unwrap_err().to_string().starts_with("a.log: line 1, field `time`: `yesterday`"));
        assert_eq!(got[1].as_ref().unwrap_err().to_string(), "a.log: line 2, field `status`: `x` is not a status");
    }
}
