//! The Wikimedia CDN request traces of 2019 (tab-separated, one request a
//! line, an optional header line). Columns, as documented with the release
//! (Wikitech, "Analytics/Data Lake/Traffic/Caching", November 2019; and
//! the libCacheSim dataset catalogue, cacheMon/cache_dataset `README.md`,
//! "Wikimedia CDN Request Traces", 2019):
//!
//! ```text
//! upload (cache-u): relative_unix  hashed_path_query       image_type  response_size  time_firstbyte
//! text   (cache-t): relative_unix  hashed_host_path_query  response_size  time_firstbyte
//! ```
//!
//! `relative_unix` is seconds since a hidden start; the hash is a salted
//! signed 64-bit integer (negative values occur), taken as its bits;
//! `response_size` is bytes; `time_firstbyte` (seconds, e.g. `2.8E-4`) is
//! checked to be a number and otherwise not used.

use std::io::BufRead;

use super::lines::Lines;
use super::{Op, Request, TraceError, parse_time};

/// Which of the two 2019 datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Images from upload.wikimedia.org: five columns.
    Upload,
    /// Pages (text): four columns.
    Text,
}

impl Variant {
    fn columns(self) -> &'static [&'static str] {
        match self {
            Variant::Upload => &["relative_unix", "hashed_path_query", "image_type", "response_size", "time_firstbyte"],
            Variant::Text => &["relative_unix", "hashed_host_path_query", "response_size", "time_firstbyte"],
        }
    }
}

/// Streams the requests of a Wikimedia 2019 trace.
pub struct WikiReader<R> {
    lines: Lines<R>,
    label: String,
    variant: Variant,
}

impl<R: BufRead> WikiReader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R, label: &str, variant: Variant) -> Self {
        WikiReader { lines: Lines::new(inner, label), label: label.to_string(), variant }
    }
}

impl<R: BufRead> Iterator for WikiReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (n, line) = match self.lines.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if line.trim().is_empty() {
                continue;
            }
            let names = self.variant.columns();
            let err = |field: Option<&str>, m: String| Some(Err(TraceError::at(&self.label, "line", n, field, m)));
            let mut fields = [""; 5];
            let mut count = 0;
            for f in line.split('\t') {
                if count < 5 {
                    fields[count] = f.trim();
                }
                count += 1;
            }
            if n == 1 && fields[0] == "relative_unix" {
                if count != names.len() || fields[..count] != *names {
                    return err(
                        None,
                        format!(
                            "header `{}` is not the {} header `{}`",
                            line.replace('\t', " "),
                            if self.variant == Variant::Upload { "wiki-upload" } else { "wiki-text" },
                            names.join(" ")
                        ),
                    );
                }
                continue;
            }
            if count != names.len() {
                return err(
                    None,
                    format!(
                        "{count} tab-separated fields, expected {} ({}){}",
                        names.len(),
                        names.join(", "),
                        if count == 4 && self.variant == Variant::Upload {
                            "; is this a text trace (--format wiki-text)?"
                        } else if count == 5 && self.variant == Variant::Text {
                            "; is this an upload trace (--format wiki-upload)?"
                        } else {
                            ""
                        }
                    ),
                );
            }
            let (size_i, ttfb_i) = if self.variant == Variant::Upload { (3, 4) } else { (2, 3) };
            let Some(time_ms) = parse_time(fields[0], 1000.0) else {
                return err(Some(names[0]), format!("`{}` is not a number of seconds", fields[0]));
            };
            let Ok(key) = fields[1].parse::<i64>() else {
                return err(Some(names[1]), format!("`{}` is not a 64-bit integer", fields[1]));
            };
            let Ok(size) = fields[size_i].parse::<u64>() else {
                return err(Some("response_size"), format!("`{}` is not a size in bytes", fields[size_i]));
            };
            if fields[ttfb_i].parse::<f64>().is_err() {
                return err(Some("time_firstbyte"), format!("`{}` is not a number", fields[ttfb_i]));
            }
            return Some(Ok(Request { time_ms, key: key as u64, size, op: Op::Read, ttl: None, client: None }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Variant, text: &str) -> Vec<Result<Request, TraceError>> {
        WikiReader::new(text.as_bytes(), "cache-t.tsv", v).collect()
    }

    #[test]
    fn text_and_upload_lines() {
        let t = "relative_unix\thashed_host_path_query\tresponse_size\ttime_firstbyte\n864000\t1714473446\t20546\t2.8E-4\n864001\t-889152392\t17446\t1.88E-4\n";
        let r: Vec<Request> = read(Variant::Text, t).into_iter().map(Result::unwrap).collect();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].time_ms, r[0].key, r[0].size), (864_000_000, 1_714_473_446, 20546));
        assert_eq!(r[1].key, (-889_152_392i64) as u64);
        let u = "0\t-42\tjpeg\t1234\t0.01\n";
        let r = read(Variant::Upload, u).remove(0).unwrap();
        assert_eq!((r.key, r.size), ((-42i64) as u64, 1234));
    }

    #[test]
    fn bad_lines_are_located() {
        let got = read(Variant::Text, "1\t2\t3\t0.1\n1\tx\t3\t0.1\n1\t2\tbig\t0.1\n1\t2\tjpeg\t3\t0.1\n");
        assert!(got[0].is_ok());
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "cache-t.tsv: line 2, field `hashed_host_path_query`: `x` is not a 64-bit integer"
        );
        assert_eq!(
            got[2].as_ref().unwrap_err().to_string(),
            "cache-t.tsv: line 3, field `response_size`: `big` is not a size in bytes"
        );
        assert!(got[3].as_ref().unwrap_err().to_string().contains("is this an upload trace"));
        let got = read(Variant::Upload, "relative_unix\thashed_host_path_query\tresponse_size\ttime_firstbyte\n");
        assert!(got[0].as_ref().unwrap_err().to_string().contains("is not the wiki-upload header"));
    }
}
