//! Delimited text traces with a column mapping, like libCacheSim's csv
//! reader (`time-col=1, obj-id-col=2, obj-size-col=3`).
//!
//! A mapping is written `key=2,time=1,size=3,op=4,ttl=5,client=6,
//! delimiter=;,header=true,time_unit=ms`: columns are 1-based numbers, or
//! names from the header line when `header=true`. Only `key` is required;
//! without `size` every object is 1 byte (the miss ratio is then also the
//! byte miss ratio), without `time` the line number is the time in seconds.
//! Fields may be quoted (`"a,b"`, with `""` for a quote). Blank lines and
//! lines starting with `#` are skipped.

use std::io::BufRead;

use super::lines::Lines;
use super::{Op, Request, TraceError, key_of, parse_time};

/// A column: its 1-based number, or its header name.
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    /// 1-based position.
    Number(usize),
    /// Header name (needs `header=true`).
    Name(String),
}

/// How to read a delimited trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// Object key (required).
    pub key: Col,
    /// Request time.
    pub time: Option<Col>,
    /// Object size.
    pub size: Option<Col>,
    /// Operation word ([`Op::from_word`]).
    pub op: Option<Col>,
    /// TTL in seconds.
    pub ttl: Option<Col>,
    /// Client id or address.
    pub client: Option<Col>,
    /// Field separator.
    pub delimiter: u8,
    /// The first line names the columns.
    pub header: bool,
    /// Milliseconds per time unit (`s` 1000, `ms` 1, `us` 0.001).
    pub ms_per_unit: f64,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            key: Col::Number(1),
            time: None,
            size: None,
            op: None,
            ttl: None,
            client: None,
            delimiter: b',',
            header: false,
            ms_per_unit: 1000.0,
        }
    }
}

impl Columns {
    /// Parses `key=2,time=1,size=3,delimiter=tab,header=true,time_unit=ms`.
    pub fn parse(spec: &str) -> Result<Columns, String> {
        let mut c = Columns::default();
        let mut key = None;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("`{part}`: write name=value"))?;
            let (k, v) = (k.trim(), v.trim());
            let col = || -> Result<Col, String> {
                match v.parse::<usize>() {
                    Ok(0) => Err(format!("`{part}`: columns count from 1")),
                    Ok(n) => Ok(Col::Number(n)),
                    Err(_) if !v.is_empty() => Ok(Col::Name(v.to_string())),
                    Err(_) => Err(format!("`{part}`: give a column number or name")),
                }
            };
            match k {
                "key" => key = Some(col()?),
                "time" => c.time = Some(col()?),
                "size" => c.size = Some(col()?),
                "op" => c.op = Some(col()?),
                "ttl" => c.ttl = Some(col()?),
                "client" => c.client = Some(col()?),
                "delimiter" => {
                    c.delimiter = match v {
                        "tab" | "\\t" => b'\t',
                        "comma" => b',',
                        "space" => b' ',
                        "semicolon" => b';',
                        _ if v.len() == 1 => v.as_bytes()[0],
                        _ => return Err(format!("`{part}`: one character, or tab/comma/space/semicolon")),
                    }
                }
                "header" => c.header = v.parse().map_err(|_| format!("`{part}`: true or false"))?,
                "time_unit" => {
                    c.ms_per_unit = match v {
                        "s" => 1000.0,
                        "ms" => 1.0,
                        "us" => 0.001,
                        _ => return Err(format!("`{part}`: s, ms or us")),
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown csv option `{k}` (key, time, size, op, ttl, client, delimiter, header, time_unit)"
                    ));
                }
            }
        }
        c.key = key.ok_or("csv: say which column is the key (key=N)")?;
        let named = [Some(&c.key), c.time.as_ref(), c.size.as_ref(), c.op.as_ref(), c.ttl.as_ref(), c.client.as_ref()]
            .into_iter()
            .flatten()
            .any(|c| matches!(c, Col::Name(_)));
        if named && !c.header {
            return Err("csv: columns by name need header=true".into());
        }
        Ok(c)
    }
}

/// Resolved 0-based positions.
#[derive(Debug, Clone, Copy)]
struct Pos {
    key: usize,
    time: Option<usize>,
    size: Option<usize>,
    op: Option<usize>,
    ttl: Option<usize>,
    client: Option<usize>,
    max: usize,
}

/// Streams the requests of a delimited trace.
pub struct CsvReader<R> {
    lines: Lines<R>,
    label: String,
    pending: Option<String>,
    cols: Columns,
    pos: Option<Pos>,
    fields: Vec<(usize, usize)>,
    unquoted: String,
    key: String,
}

impl<R> CsvReader<R> {
    /// The key field of the last request read, as written (unquoted).
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl<R: BufRead> CsvReader<R> {
    /// A reader over `inner` with mapping `cols`.
    pub fn new(inner: R, label: &str, cols: Columns) -> Self {
        let (pos, pending) = match (cols.header, resolve(&cols, None)) {
            (true, _) => (None, None),
            (false, Ok(p)) => (Some(p), None),
            (false, Err(m)) => (None, Some(m)),
        };
        CsvReader {
            pending,
            lines: Lines::new(inner, label),
            label: label.to_string(),
            cols,
            pos,
            fields: Vec::new(),
            unquoted: String::new(),
            key: String::new(),
        }
    }
}

fn resolve(c: &Columns, header: Option<&[&str]>) -> Result<Pos, String> {
    let one = |col: &Col| -> Result<usize, String> {
        match (col, header) {
            (Col::Number(n), _) => Ok(n - 1),
            (Col::Name(name), Some(h)) => h
                .iter()
                .position(|x| x.trim() == name)
                .ok_or_else(|| format!("no column named `{name}` in the header ({})", h.join(", "))),
            (Col::Name(name), None) => Err(format!("column `{name}` needs a header")),
        }
    };
    let opt = |col: &Option<Col>| col.as_ref().map(one).transpose();
    let mut p = Pos {
        key: one(&c.key)?,
        time: opt(&c.time)?,
        size: opt(&c.size)?,
        op: opt(&c.op)?,
        ttl: opt(&c.ttl)?,
        client: opt(&c.client)?,
        max: 0,
    };
    p.max = [Some(p.key), p.time, p.size, p.op, p.ttl, p.client].into_iter().flatten().max().unwrap_or(0);
    Ok(p)
}

/// Splits `line` at `delim` into byte ranges, honouring double quotes. The
/// ranges of quoted fields include their quotes; [`field`] strips them.
fn split(line: &str, delim: u8, out: &mut Vec<(usize, usize)>) -> Result<(), &'static str> {
    out.clear();
    let b = line.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let mut quoted = false;
    while i < b.len() {
        let c = b[i];
        if quoted {
            if c == b'"' {
                if b.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else if c == b'"' && i == start {
            quoted = true;
        } else if c == delim {
            out.push((start, i));
            start = i + 1;
        }
        i += 1;
    }
    if quoted {
        return Err("unterminated quote");
    }
    out.push((start, b.len()));
    Ok(())
}

/// The text of field `r` of `line`, unquoted into `scratch` when needed.
fn field<'a>(line: &'a str, r: (usize, usize), scratch: &'a mut String) -> &'a str {
    let s = &line[r.0..r.1];
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        scratch.clear();
        scratch.push_str(&s[1..s.len() - 1].replace("\"\"", "\""));
        return scratch.as_str();
    }
    s.trim()
}

impl<R: BufRead> Iterator for CsvReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(m) = self.pending.take() {
            self.lines.finish();
            return Some(Err(TraceError::file(&self.label, format!("csv mapping: {m}"))));
        }
        loop {
            let (n, line) = match self.lines.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            let label = self.label.as_str();
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |field: Option<&str>, m: String| Some(Err(TraceError::at(label, "line", n, field, m)));
            if let Err(m) = split(line, self.cols.delimiter, &mut self.fields) {
                return err(None, m.into());
            }
            let Some(pos) = self.pos else {
                let names: Vec<&str> = self.fields.iter().map(|r| line[r.0..r.1].trim_matches('"')).collect();
                match resolve(&self.cols, Some(&names)) {
                    Ok(p) => self.pos = Some(p),
                    Err(m) => return err(None, format!("header: {m}")),
                }
                continue;
            };
            if self.fields.len() <= pos.max {
                return err(None, format!("{} fields, the mapping needs at least {}", self.fields.len(), pos.max + 1));
            }
            let mut scratch = std::mem::take(&mut self.unquoted);
            let key_text = &mut self.key;
            let result = (|| {
                let k = field(line, self.fields[pos.key], &mut scratch);
                key_text.clear();
                key_text.push_str(k);
                let key = key_of(k);
                let time_ms = match pos.time {
                    None => n * 1000,
                    Some(i) => {
                        let t = field(line, self.fields[i], &mut scratch);
                        parse_time(t, self.cols.ms_per_unit)
                            .ok_or_else(|| (Some("time"), format!("`{t}` is not a time (a number ≥ 0)")))?
                    }
                };
                let size = match pos.size {
                    None => 1,
                    Some(i) => {
                        let s = field(line, self.fields[i], &mut scratch);
                        s.parse::<u64>().map_err(|_| (Some("size"), format!("`{s}` is not a size in bytes")))?
                    }
                };
                let op = pos.op.map_or(Op::Read, |i| Op::from_word(field(line, self.fields[i], &mut scratch)));
                let ttl = match pos.ttl {
                    None => None,
                    Some(i) => {
                        let s = field(line, self.fields[i], &mut scratch);
                        Some(s.parse::<u32>().map_err(|_| (Some("ttl"), format!("`{s}` is not a TTL in seconds")))?)
                    }
                };
                let client = pos.client.map(|i| key_of(field(line, self.fields[i], &mut scratch)));
                Ok(Request { time_ms, key, size, op, ttl, client })
            })();
            self.unquoted = scratch;
            return Some(result.map_err(|(f, m): (Option<&str>, String)| TraceError::at(label, "line", n, f, m)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(spec: &str, text: &str) -> Vec<Result<Request, TraceError>> {
        CsvReader::new(text.as_bytes(), "t.csv", Columns::parse(spec).unwrap()).collect()
    }

    #[test]
    fn columns_by_number_and_by_name() {
        let by_number = read("time=1,key=2,size=3", "10,7,100\n11,abc,200\n");
        let r: Vec<Request> = by_number.into_iter().map(Result::unwrap).collect();
        assert_eq!((r[0].time_ms, r[0].key, r[0].size), (10_000, 7, 100));
        assert_eq!(r[1].key, key_of("abc"));
        let by_name = read("header=true,key=url,size=bytes,op=op", "url,op,bytes\n/a,get,5\n/b,set,6\n");
        let r: Vec<Request> = by_name.into_iter().map(Result::unwrap).collect();
        assert_eq!((r[0].key, r[0].size, r[0].op), (key_of("/a"), 5, Op::Read));
        assert_eq!(r[1].op, Op::Write);
    }

    #[test]
    fn quotes_tabs_comments_and_defaults() {
        let r: Vec<Request> = read("key=2,delimiter=tab,time=1,time_unit=ms", "# comment\n5\t\"a\tb\"\n\n6\tx\n")
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].time_ms, r[0].key, r[0].size), (5, key_of("a\tb"), 1));
    }

    #[test]
    fn bad_lines_are_located_by_line_and_field() {
        let got = read("time=1,key=2,size=3", "1,a,10\n2,b,ten\n3,c\n4,\"d,5\n");
        assert!(got[0].is_ok());
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "t.csv: line 2, field `size`: `ten` is not a size in bytes"
        );
        assert_eq!(got[2].as_ref().unwrap_err().to_string(), "t.csv: line 3: 2 fields, the mapping needs at least 3");
        assert_eq!(got[3].as_ref().unwrap_err().to_string(), "t.csv: line 4: unterminated quote");
        let got = read("header=true,key=url", "path\n/a\n");
        assert!(got[0].as_ref().unwrap_err().to_string().starts_with("t.csv: line 1: header: no column named `url`"));
    }

    #[test]
    fn mappings_are_checked() {
        assert!(Columns::parse("time=1").is_err());
        assert!(Columns::parse("key=0").is_err());
        assert!(Columns::parse("key=url").is_err(), "names need a header");
        assert!(Columns::parse("key=1,colour=2").is_err());
        assert_eq!(Columns::parse("key=1,delimiter=;").unwrap().delimiter, b';');
    }
}
