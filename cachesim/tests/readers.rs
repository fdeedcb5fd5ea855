//! Every reader on the shipped fixtures (`tests/fixtures/`), good and
//! malformed: the good ones load with the counts the files hold, the bad
//! ones fail with the file, the record or line, and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use cachesim::Trace;
use cachesim::trace::{Format, Op, Reader, TraceError};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn load(name: &str, format: &str, csv: Option<&str>) -> Result<Trace, TraceError> {
    let f = Format::parse(format, csv).unwrap();
    Trace::load(Reader::open(&fixture(name), &f)?, |_| {})
}

fn err(name: &str, format: &str, csv: Option<&str>) -> String {
    let e = load(name, format, csv).unwrap_err().to_string();
    let file = fixture(name).display().to_string();
    e.strip_prefix(&file).unwrap_or_else(|| panic!("error does not start with the file: {e}")).to_string()
}

#[test]
fn oracle_general() {
    let t = load("zipf-small.oracleGeneral", "oracle", None).unwrap();
    assert_eq!((t.stats.records, t.len()), (250, 250));
    assert!(t.objects() > 20 && t.objects() < 60, "{}", t.objects());
    assert_eq!(t.stats.span_ms, 24_000);
    assert_eq!(
        err("bad-truncated.oracleGeneral", "oracle", None),
        ": record 3: truncated: 11 of 24 bytes (the file is not a whole number of oracleGeneral records)"
    );
}

#[test]
fn csv_with_a_header_and_an_op_column() {
    let t = load("small.csv", "csv", Some("header=true,time=time,key=key,size=size,op=op")).unwrap();
    assert_eq!(t.stats.records, 120);
    assert_eq!(t.stats.requests + t.stats.skipped_not_read, 120);
    assert!(t.stats.skipped_not_read > 0, "the fixture has set requests");
    assert_eq!(
        err("bad.csv", "csv", Some("header=true,time=1,key=2,size=3,op=4")),
        ": line 3, field `size`: `1O0` is not a size in bytes"
    );
    assert_eq!(
        err("small.csv", "csv", Some("header=true,key=url")),
        ": line 1: header: no column named `url` in the header (time, key, size, op)"
    );
}

#[test]
fn wikimedia_text_and_upload() {
    let t = load("cache-t-small.tsv", "wiki-text", None).unwrap();
    assert_eq!((t.stats.records, t.len()), (100, 100));
    let u = load("cache-u-small.tsv", "wiki-upload", None).unwrap();
    assert_eq!(u.len(), 100);
    // the same keys in both files: the hashes are read as signed 64-bit integers
    assert_eq!(t.keys, u.keys);
    assert!(t.keys.iter().any(|&k| (k as i64) < 0));
    assert_eq!(err("bad-wiki.tsv", "wiki-text", None), ": line 3, field `response_size`: `-5` is not a size in bytes");
    assert!(err("cache-u-small.tsv", "wiki-text", None).contains("is not the wiki-text header"));
}

#[test]
fn access_log() {
    let f = Format::parse("access-log", None).unwrap();
    let all: Vec<_> = Reader::open(&fixture("edge-access.log"), &f).unwrap().map(Result::unwrap).collect();
    assert_eq!(all.len(), 80, "the lifecycle line is not a request");
    let reads = all.iter().filter(|r| r.op == Op::Read).count();
    let t = load("edge-access.log", "access-log", None).unwrap();
    assert_eq!(t.len(), reads);
    assert_eq!(t.stats.skipped_not_read as usize, 80 - reads, "HEADs and 304s are not replayed");
    assert!(err("bad-access.log", "access-log", None).starts_with(": line 2: not a JSON log line"));
}

#[test]
fn a_missing_file_is_named() {
    let e = Reader::open(&fixture("nope.oracleGeneral"), &Format::Oracle).err().unwrap().to_string();
    assert!(e.contains("nope.oracleGeneral: cannot open"), "{e}");
}
