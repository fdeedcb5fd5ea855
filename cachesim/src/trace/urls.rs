//! A URL list: the objects of a site, one per line, for a scenario's
//! workload (`[workload] urls = "FILE"`), not a trace (no times):
//!
//! ```text
//! # path                 weight   size (bytes)
//! /                      40       5120
//! /static/app.js         25       180000
//! https://example.com/a  1
//! ```
//!
//! Fields are separated by spaces or tabs. The path (a full `http(s)://`
//! URL is cut to its path) is sent as written: printable ASCII, starting
//! with `/`. The weight (a share of requests, any positive number) and the
//! size (bytes) are optional; `-` leaves one out. Blank lines and lines
//! starting with `#` are skipped; a path listed twice is an error.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::TraceError;
use super::lines::Lines;

/// Longest path.
pub const MAX_PATH: usize = 8192;

/// One URL of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlEntry {
    /// The request target, starting with `/`.
    pub path: String,
    /// Its share of requests (relative), when the list gives one.
    pub weight: Option<f64>,
    /// Its size in bytes, when the list gives one.
    pub size: Option<u64>,
}

/// A URL list, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlList {
    /// The URLs.
    pub entries: Vec<UrlEntry>,
}

impl UrlList {
    /// Reads `path`, refusing more than `max` URLs.
    pub fn read(path: &Path, max: usize) -> Result<UrlList, TraceError> {
        let label = path.display().to_string();
        let f = File::open(path).map_err(|e| TraceError::file(&label, format!("cannot open: {e}")))?;
        UrlList::from_read(BufReader::new(f), &label, max)
    }

    /// Reads a list from any buffered source; `label` names it in errors.
    pub fn from_read(r: impl std::io::BufRead, label: &str, max: usize) -> Result<UrlList, TraceError> {
        let mut lines = Lines::new(r, label);
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        while let Some(l) = lines.next_line() {
            let (n, line) = l?;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |field: &str, m: String| TraceError::at(label, "line", n, Some(field), m);
            let mut f = line.split_ascii_whitespace();
            let raw = f.next().unwrap_or_default();
            let path = path_of(raw).ok_or_else(|| {
                err(
                    "path",
                    format!("`{raw}` is not a path (printable ASCII starting with `/`, at most {MAX_PATH} bytes)"),
                )
            })?;
            let weight = match f.next() {
                None | Some("-") => None,
                Some(w) => match w.parse::<f64>() {
                    Ok(v) if v.is_finite() && v > 0.0 => Some(v),
                    _ => return Err(err("weight", format!("`{w}` is not a positive number"))),
                },
            };
            let size = match f.next() {
                None | Some("-") => None,
                Some(s) => Some(s.parse::<u64>().map_err(|_| err("size", format!("`{s}` is not a size in bytes")))?),
            };
            if let Some(extra) = f.next() {
                return Err(TraceError::at(label, "line", n, None, format!("`{extra}`: at most PATH WEIGHT SIZE")));
            }
            if !seen.insert(path.to_string()) {
                return Err(err("path", format!("`{path}` is listed twice")));
            }
            if entries.len() >= max {
                return Err(TraceError::at(label, "line", n, None, format!("more than {max} URLs")));
            }
            entries.push(UrlEntry { path: path.to_string(), weight, size });
        }
        if entries.is_empty() {
            return Err(TraceError::file(label, "no URLs"));
        }
        Ok(UrlList { entries })
    }
}

/// The path of a list entry: as written, or a full URL's path.
fn path_of(raw: &str) -> Option<&str> {
    let p = match raw.strip_prefix("http://").or_else(|| raw.strip_prefix("https://")) {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => raw,
    };
    let ok = p.starts_with('/') && p.len() <= MAX_PATH && p.bytes().all(|b| (0x21..=0x7e).contains(&b));
    ok.then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<UrlList, TraceError> {
        UrlList::from_read(text.as_bytes(), "urls.txt", 100)
    }

    #[test]
    fn paths_weights_and_sizes() {
        let l = read("# site\n/ 40 5120\n\n/app.js\t25\nhttps://example.com/a?b=1 - 7\nhttp://x\n").unwrap_err();
        assert!(l.to_string().contains("line 6, field `path`: `/` is listed twice"), "a bare host is `/`: {l}");
        let l = read("# site\n/ 40 5120\n\n/app.js\t25\nhttps://example.com/a?b=1 - 7\n").unwrap();
        let got: Vec<(&str, Option<f64>, Option<u64>)> =
            l.entries.iter().map(|e| (e.path.as_str(), e.weight, e.size)).collect();
        assert_eq!(got, [("/", Some(40.0), Some(5120)), ("/app.js", Some(25.0), None), ("/a?b=1", None, Some(7))]);
    }

    #[test]
    fn mistakes_are_located() {
        for (text, want) in [
            ("/a 1 1\n/b x\n", "urls.txt: line 2, field `weight`: `x` is not a positive number"),
            ("/a 1 1\n/a\n", "urls.txt: line 2, field `path`: `/a` is listed twice"),
            ("a\n", "urls.txt: line 1, field `path`: `a` is not a path"),
            ("/a 1 ten\n", "urls.txt: line 1, field `size`: `ten` is not a size in bytes"),
            ("/a 1 2 3\n", "urls.txt: line 1: `3`: at most PATH WEIGHT SIZE"),
            ("# nothing\n", "urls.txt: no URLs"),
        ] {
            let e = read(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
        let many: String = (0..101).map(|i| format!("/{i}\n")).collect();
        assert!(read(&many).unwrap_err().to_string().contains("more than 100 URLs"));
    }
}
