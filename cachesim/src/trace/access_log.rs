//! cdnlab's edge access log (`access_log = true`): JSON lines written by
//! `tracing`'s JSON formatter, one per request (see `edge/src/access_log.rs`):
//!
//! ```text
//! {"timestamp":"2026-11-25T18:02:59.123456Z","level":"INFO","fields":{"message":"access","edge":"seoul",
//!  "client":"127.1.0.9","method":"GET","path":"/obj/1","status":200,"outcome":"hit","cache_status":"…",
//!  "bytes":48122,"duration_us":41},"target":"cdnlab::access"}
//! ```
//!
//! Other log lines (lifecycle events of the same process) and lines that
//! are not JSON objects (the `cdnlab-ready …` line the edge prints on the
//! same stream) are skipped; a line that starts like JSON and does not
//! parse is an error.
//! The key is a hash of `path` (path and query, as the edge keys them);
//! the size is `bytes`; the client is a hash of `client`. A GET answered
//! 200 is a read; anything else (HEAD, 304, 404, 5xx, a body of unknown
//! length) is [`Op::Other`], which replay skips and counts.

use std::io::BufRead;

use serde::Deserialize;

use super::lines::Lines;
use world::rng::hash64;

use super::{Op, Request, TraceError};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    fields: Option<Fields>,
    #[serde(borrow, default)]
    target: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    bytes: Option<u64>,
}

/// Streams the requests of an access log.
pub struct AccessLogReader<R> {
    lines: Lines<R>,
    label: String,
    path: String,
}

impl<R: BufRead> AccessLogReader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R, label: &str) -> Self {
        AccessLogReader { lines: Lines::new(inner, label), label: label.to_string(), path: String::new() }
    }

    /// The path of the last request read.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl<R: BufRead> Iterator for AccessLogReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (n, line) = match self.lines.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            // the edge prints its ready line on the same stream: only JSON
            // objects are log lines
            if !line.trim_start().starts_with('{') {
                continue;
            }
            let err = |field: Option<&str>, m: String| Some(Err(TraceError::at(&self.label, "line", n, field, m)));
            let parsed: Line<'_> = match serde_json::from_str(line) {
                Ok(l) => l,
                Err(e) => return err(None, format!("not a JSON log line: {e}")),
            };
            let is_access = parsed.target.as_deref() == Some("cdnlab::access")
                || parsed.fields.as_ref().and_then(|f| f.message.as_deref()) == Some("access");
            if !is_access {
                continue;
            }
            let Some(f) = parsed.fields else { continue };
            let Some(ts) = parsed.timestamp else {
                return err(Some("timestamp"), "missing".into());
            };
            let Some(time_ms) = rfc3339_ms(&ts) else {
                return err(Some("timestamp"), format!("`{ts}` is not an RFC 3339 UTC time"));
            };
            let Some(path) = f.path else {
                return err(Some("path"), "missing".into());
            };
            let Some(status) = f.status else {
                return err(Some("status"), "missing".into());
            };
            let read = f.method.as_deref() == Some("GET") && status == 200 && f.bytes.is_some();
            self.path.clear();
            self.path.push_str(&path);
            return Some(Ok(Request {
                time_ms,
                key: hash64(path.as_bytes()),
                size: f.bytes.unwrap_or(0),
                op: if read { Op::Read } else { Op::Other },
                ttl: None,
                client: f.client.as_deref().map(|c| hash64(c.as_bytes())),
            }));
        }
    }
}

/// Milliseconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.frac]Z`
/// (or `+00:00`).
pub fn rfc3339_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        ms = format!("{f:0<3}")[..3].parse::<u64>().ok()?;
        rest = &frac[digits..];
    }
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    civil_ms(y, mo, d, h, mi, sec).map(|t| t + ms)
}

/// Milliseconds since the Unix epoch of a UTC civil time (Howard
/// Hinnant's days-from-civil algorithm); `None` before 1970.
pub(crate) fn civil_ms(y: u64, mo: u64, d: u64, h: u64, mi: u64, sec: u64) -> Option<u64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let (y, m) = if mo <= 2 { (y as i64 - 1, mo + 9) } else { (y as i64, mo - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m as i64 + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + (h * 3600 + mi * 60 + sec) as i64;
    (secs >= 0).then(|| secs as u64 * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIT: &str = r#"{"timestamp":"2026-11-25T18:02:59.123456Z","level":"INFO","fields":{"message":"access","edge":"seoul","client":"127.1.0.9","method":"GET","path":"/obj/1","status":200,"outcome":"hit","cache_status":"edge-seoul; hit","bytes":48122,"duration_us":41},"target":"cdnlab::access"}"#;

    #[test]
    fn access_lines_become_requests_and_other_lines_are_skipped() {
        let text = format!(
            "cdnlab-ready edge seoul public=127.1.0.1:8080 admin=127.1.0.1:9080\n{}\n{HIT}\n{}\n",
            r#"{"timestamp":"2026-11-25T18:02:58Z","level":"INFO","fields":{"message":"ready"},"target":"edge"}"#,
            HIT.replace("\"status\":200", "\"status\":304")
        );
        let r: Vec<Request> = AccessLogReader::new(text.as_bytes(), "edge.log").map(Result::unwrap).collect();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].key, r[0].size, r[0].op), (hash64(b"/obj/1"), 48122, Op::Read));
        assert_eq!(r[0].client, Some(hash64(b"127.1.0.9")));
        assert_eq!(r[0].time_ms, rfc3339_ms("2026-11-25T18:02:59.123Z").unwrap());
        assert_eq!(r[1].op, Op::Other);
    }

    #[test]
    fn bad_lines_are_located() {
        let text = format!("{HIT}\n{{not json\n{}\n", HIT.replace("2026-11-25T18:02:59.123456Z", "yesterday"));
        let got: Vec<_> = AccessLogReader::new(text.as_bytes(), "edge.log").collect();
        assert!(got[0].is_ok());
        assert!(got[1].as_ref().unwrap_err().to_string().starts_with("edge.log: line 2: not a JSON log line"));
        assert_eq!(
            got[2].as_ref().unwrap_err().to_string(),
            "edge.log: line 3, field `timestamp`: `yesterday` is not an RFC 3339 UTC time"
        );
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("2000-03-01T00:00:01.5Z"), Some(951_868_801_500));
        assert_eq!(rfc3339_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(rfc3339_ms("2026-01-01T00:00:00+09:00"), None);
    }
}
