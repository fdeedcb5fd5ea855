//! Streaming trace readers: one [`Request`] at a time, in constant memory
//! (a reused line buffer of at most [`MAX_LINE`] bytes, or one 24-byte
//! record), with errors that name the file, the record or line, and the
//! field.
//!
//! Formats ([`Format`]):
//!
//! - `oracle`: libCacheSim's oracleGeneral binary, 24-byte little-endian
//!   records `u32 time, u64 id, u32 size, i64 next-access` ([`oracle`]);
//! - `csv`: any delimited text with a column mapping ([`csv`]);
//! - `wiki-upload` / `wiki-text`: the Wikimedia 2019 CDN traces ([`wiki`]);
//! - `access-log`: cdnlab's edge access log, JSON lines ([`access_log`]);
//! - `common-log`: a web server's Common or Combined Log Format ([`common_log`]).
//!
//! [`urls`] reads a URL list (a site's objects with weights and sizes, no
//! times) for a scenario's workload. Textual formats also give each
//! request's key as written ([`Reader::key_text`]: the path of a log line),
//! so a live replay can request the same URLs from a real origin.
//!
//! A reader reports what the file says; what the models make of it
//! (size-0 requests, writes, non-200 responses are skipped) is decided by
//! [`crate::Trace::load`].

pub mod access_log;
pub mod common_log;
pub mod csv;
mod lines;
pub mod oracle;
pub mod urls;
pub mod wiki;

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

pub use lines::MAX_LINE;

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A read (GET): the only kind a cache model replays.
    Read,
    /// A write or update (SET, PUT, …).
    Write,
    /// A delete.
    Delete,
    /// Anything else (a HEAD, an error response, an unknown op word).
    Other,
}

impl Op {
    /// The op of a libCacheSim/memcached-style op word (`get`, `GET`,
    /// `gets`, `read` → read; `set`, `add`, `replace`, `cas`, `append`,
    /// `prepend`, `incr`, `decr`, `write`, `update`, `put` → write;
    /// `delete`, `del` → delete).
    pub fn from_word(w: &str) -> Op {
        let w = w.trim();
        let is = |xs: &[&str]| xs.iter().any(|x| x.eq_ignore_ascii_case(w));
        if is(&["get", "gets", "read"]) {
            Op::Read
        } else if is(&["set", "add", "replace", "cas", "append", "prepend", "incr", "decr", "write", "update", "put"]) {
            Op::Write
        } else if is(&["delete", "del"]) {
            Op::Delete
        } else {
            Op::Other
        }
    }
}

/// One request of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// When, in milliseconds since the trace's own origin.
    pub time_ms: u64,
    /// The object: the trace's numeric id, or a 64-bit hash of its textual
    /// key ([`key_of`]).
    pub key: u64,
    /// Object size in bytes.
    pub size: u64,
    /// What the request does.
    pub op: Op,
    /// Time to live in seconds, when the trace gives one.
    pub ttl: Option<u32>,
    /// The client (a hash of its address or id), when the trace gives one.
    pub client: Option<u64>,
}

/// Where a bad record is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based record (binary) or line (text) number.
    pub number: u64,
    /// `record` or `line`.
    pub unit: &'static str,
    /// The field, when one field is at fault.
    pub field: Option<String>,
}

/// A trace that cannot be read, with the place of the fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TraceError {
    /// The file.
    pub file: String,
    /// Where in it (none: the file as a whole).
    pub at: Option<Location>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(a) = &self.at {
            write!(f, ": {} {}", a.unit, a.number)?;
            if let Some(field) = &a.field {
                write!(f, ", field `{field}`")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl TraceError {
    /// An error about the file as a whole.
    pub fn file(file: &str, message: impl Into<String>) -> TraceError {
        TraceError { file: file.to_string(), at: None, message: message.into() }
    }

    /// An error at a record or line, optionally in one field.
    pub fn at(file: &str, unit: &'static str, number: u64, field: Option<&str>, message: impl Into<String>) -> Self {
        TraceError {
            file: file.to_string(),
            at: Some(Location { number, unit, field: field.map(str::to_string) }),
            message: message.into(),
        }
    }
}

/// A trace format with its options.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// libCacheSim oracleGeneral binary.
    Oracle,
    /// Delimited text with a column mapping.
    Csv(csv::Columns),
    /// Wikimedia 2019 CDN trace, upload (`cache-u`) or text (`cache-t`).
    Wiki(wiki::Variant),
    /// cdnlab's JSON access log.
    AccessLog,
    /// Common or Combined Log Format.
    CommonLog,
}

impl Format {
    /// Parses a `--format` word: `oracle`, `csv` (with `csv_spec`, see
    /// [`csv::Columns::parse`]), `wiki-upload`, `wiki-text`, `access-log`.
    pub fn parse(word: &str, csv_spec: Option<&str>) -> Result<Format, String> {
        Ok(match word {
            "oracle" | "oracleGeneral" => Format::Oracle,
            "csv" => Format::Csv(csv::Columns::parse(csv_spec.unwrap_or("key=1"))?),
            "wiki-upload" => Format::Wiki(wiki::Variant::Upload),
            "wiki-text" => Format::Wiki(wiki::Variant::Text),
            "access-log" => Format::AccessLog,
            "common-log" | "combined-log" => Format::CommonLog,
            _ => {
                return Err(format!(
                    "unknown trace format `{word}` (oracle, csv, wiki-upload, wiki-text, access-log, common-log)"
                ));
            }
        })
    }

    /// The format a file name suggests (`.oracleGeneral`/`.bin` → oracle,
    /// `.csv` → csv with key in column 1, `.tsv` → wiki-upload, `.jsonl` →
    /// access-log, `.log` → access-log or common-log by its first line: see
    /// [`Format::sniff`]).
    pub fn guess(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let ext = name.rsplit('.').next()?;
        match ext {
            "oracleGeneral" | "bin" => Some(Format::Oracle),
            "csv" => Some(Format::Csv(csv::Columns::default())),
            "tsv" => {
                Some(Format::Wiki(if name.contains("cache-t") { wiki::Variant::Text } else { wiki::Variant::Upload }))
            }
            "jsonl" => Some(Format::AccessLog),
            "log" => Some(Format::sniff(path)),
            _ => None,
        }
    }

    /// A `.log` file's format by its first line that is not blank: a JSON
    /// object is cdnlab's access log, anything else a common or combined
    /// log (unreadable: access-log, whose reader then says why).
    pub fn sniff(path: &Path) -> Format {
        use std::io::BufRead;
        let Ok(f) = File::open(path) else { return Format::AccessLog };
        let first = BufReader::new(f.take(1 << 16))
            .lines()
            .map_while(Result::ok)
            .find(|l| !l.trim().is_empty() && !l.starts_with("cdnlab-ready"));
        match first {
            Some(l) if !l.trim_start().starts_with('{') => Format::CommonLog,
            _ => Format::AccessLog,
        }
    }

    /// Whether the format's keys are URLs ([`Reader::key_text`]).
    pub fn has_paths(&self) -> bool {
        matches!(self, Format::AccessLog | Format::CommonLog | Format::Csv(_))
    }

    /// The format's name as written on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Oracle => "oracle",
            Format::Csv(_) => "csv",
            Format::Wiki(wiki::Variant::Upload) => "wiki-upload",
            Format::Wiki(wiki::Variant::Text) => "wiki-text",
            Format::AccessLog => "access-log",
            Format::CommonLog => "common-log",
        }
    }
}

/// A reader of one format: requests, and the last key as written.
trait Source: Iterator<Item = Result<Request, TraceError>> + Send {
    /// The key of the last request as written, for textual formats.
    fn key_text(&self) -> Option<&str> {
        None
    }
}

impl<R: Read + Send> Source for oracle::OracleReader<R> {}
impl<R: std::io::BufRead + Send> Source for wiki::WikiReader<R> {}
impl<R: std::io::BufRead + Send> Source for csv::CsvReader<R> {
    fn key_text(&self) -> Option<&str> {
        Some(self.key())
    }
}
impl<R: std::io::BufRead + Send> Source for access_log::AccessLogReader<R> {
    fn key_text(&self) -> Option<&str> {
        Some(self.path())
    }
}
impl<R: std::io::BufRead + Send> Source for common_log::CommonLogReader<R> {
    fn key_text(&self) -> Option<&str> {
        Some(self.target())
    }
}

/// A streaming reader of one trace.
pub struct Reader {
    inner: Box<dyn Source>,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    label: String,
}

impl Reader {
    /// Opens `path` in `format`.
    pub fn open(path: &Path, format: &Format) -> Result<Reader, TraceError> {
        let label = path.display().to_string();
        let f = File::open(path).map_err(|e| TraceError::file(&label, format!("cannot open: {e}")))?;
        Ok(Reader::from_read(f, &label, format))
    }

    /// A reader over any byte source; `label` names it in errors.
    pub fn from_read(r: impl Read + Send + 'static, label: &str, format: &Format) -> Reader {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = Counted { inner: r, read: read.clone() };
        let buf = BufReader::with_capacity(1 << 16, counted);
        let inner: Box<dyn Source> = match format {
            Format::Oracle => Box::new(oracle::OracleReader::new(buf, label)),
            Format::Csv(c) => Box::new(csv::CsvReader::new(buf, label, c.clone())),
            Format::Wiki(v) => Box::new(wiki::WikiReader::new(buf, label, *v)),
            Format::AccessLog => Box::new(access_log::AccessLogReader::new(buf, label)),
            Format::CommonLog => Box::new(common_log::CommonLogReader::new(buf, label)),
        };
        Reader { inner, read, label: label.to_string() }
    }

    /// The name of the source in errors (the file's path).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key of the last request read as the trace wrote it (a log
    /// line's path, a csv key field); `None` for binary formats.
    pub fn key_text(&self) -> Option<&str> {
        self.inner.key_text()
    }

    /// Bytes read from the source so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Iterator for Reader {
    type Item = Result<Request, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

struct Counted<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The 64-bit key of a textual key field: the number itself when the field
/// is a decimal integer (signed ones as their two's-complement bits, as the
/// Wikimedia traces write their hashes), otherwise a stable hash of its
/// bytes ([`world::rng::hash64`]: FNV-1a, mixed).
pub fn key_of(field: &str) -> u64 {
    if let Ok(n) = field.parse::<u64>() {
        return n;
    }
    if let Ok(n) = field.parse::<i64>() {
        return n as u64;
    }
    world::rng::hash64(field.as_bytes())
}

/// A decimal time in `unit`s (fractions allowed: `12.5`) as milliseconds.
pub(crate) fn parse_time(s: &str, ms_per_unit: f64) -> Option<u64> {
    if let Ok(n) = s.parse::<u64>() {
        return Some((n as f64 * ms_per_unit) as u64);
    }
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * ms_per_unit) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_numbers_when_they_are_numbers() {
        assert_eq!(key_of("42"), 42);
        assert_eq!(key_of("-1"), u64::MAX);
        assert_eq!(key_of("/obj/1"), world::rng::hash64(b"/obj/1"));
        assert_ne!(key_of("/obj/1"), key_of("/obj/2"));
    }

    #[test]
    fn op_words() {
        assert_eq!(Op::from_word("GET"), Op::Read);
        assert_eq!(Op::from_word("set"), Op::Write);
        assert_eq!(Op::from_word("delete"), Op::Delete);
        assert_eq!(Op::from_word("frobnicate"), Op::Other);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = TraceError::at("t.csv", "line", 7, Some("size"), "`x` is not a number");
        assert_eq!(e.to_string(), "t.csv: line 7, field `size`: `x` is not a number");
        assert_eq!(TraceError::file("t.bin", "cannot open").to_string(), "t.bin: cannot open");
    }

    #[test]
    fn formats_parse_and_guess() {
        assert_eq!(Format::parse("oracle", None).unwrap(), Format::Oracle);
        assert!(Format::parse("parquet", None).is_err());
        assert_eq!(Format::guess(Path::new("x.oracleGeneral")), Some(Format::Oracle));
        assert_eq!(Format::guess(Path::new("cache-t-00.tsv")), Some(Format::Wiki(wiki::Variant::Text)));
    }
}
