//! Reading TOML files with errors that name the file, line, column and
//! field, for world and scenario files alike. A check that finds several
//! problems reports them all at once ([`Problems`]): the first is the
//! error's own, the rest ride along in [`FileError::more`].

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// A problem in a TOML file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file (or `<built-in …>`).
    pub file: String,
    /// 1-based line and column, when known.
    pub at: Option<(usize, usize)>,
    /// What is wrong, naming the field.
    pub message: String,
    /// Further problems found in the same pass (each with its own place).
    pub more: Vec<FileError>,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        for m in &self.more {
            write!(f, "\n{m}")?;
        }
        Ok(())
    }
}

impl FileError {
    /// Every problem: this one, then the others found in the same pass.
    pub fn all(&self) -> impl Iterator<Item = &FileError> {
        std::iter::once(self).chain(self.more.iter())
    }
}

impl std::error::Error for FileError {}

/// One step of a path into a TOML document: a key or an array index.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    /// A table key.
    Key(&'a str),
    /// An array index.
    Index(usize),
}

impl<'a> From<&'a str> for Seg<'a> {
    fn from(k: &'a str) -> Self {
        Seg::Key(k)
    }
}

impl From<usize> for Seg<'_> {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// A parsed TOML text that can locate fields for error messages.
pub struct Doc<'t> {
    file: String,
    text: &'t str,
    root: Option<DeValue<'t>>,
}

impl<'t> Doc<'t> {
    /// Deserializes `text` into `T`; on failure the error carries the line.
    pub fn parse<T: DeserializeOwned>(file: &str, text: &'t str) -> Result<(T, Doc<'t>), FileError> {
        let value: T = toml::from_str(text).map_err(|e| FileError {
            file: file.to_string(),
            at: e.span().map(|s| line_col(text, s.start)),
            message: e.message().trim().to_string(),
            more: Vec::new(),
        })?;
        let root = DeTable::parse(text).ok().map(|t| DeValue::Table(t.into_inner()));
        Ok((value, Doc { file: file.to_string(), text, root }))
    }

    /// An error at the field found by `path` (or the file, if not found).
    pub fn error_at(&self, path: &[Seg<'_>], message: impl Into<String>) -> FileError {
        FileError { file: self.file.clone(), at: self.locate(path), message: message.into(), more: Vec::new() }
    }

    /// Line and column of the value at `path`; the deepest existing prefix
    /// of the path when the full path is absent (a missing key).
    pub fn locate(&self, path: &[Seg<'_>]) -> Option<(usize, usize)> {
        let mut cur = self.root.as_ref()?;
        let mut span = None;
        for seg in path {
            let next = match seg {
                Seg::Key(k) => cur.get(*k),
                Seg::Index(i) => cur.get(*i),
            };
            match next {
                Some(v) => {
                    span = Some(v.span());
                    cur = v.get_ref();
                }
                None => break,
            }
        }
        span.map(|s| line_col(self.text, s.start))
    }

    /// The file label.
    pub fn file(&self) -> &str {
        &self.file
    }
}

/// Problems found by one checking pass over a file, each located.
pub struct Problems<'d, 't> {
    doc: &'d Doc<'t>,
    found: Vec<FileError>,
}

impl<'d, 't> Problems<'d, 't> {
    /// An empty list for `doc`.
    pub fn new(doc: &'d Doc<'t>) -> Self {
        Problems { doc, found: Vec::new() }
    }

    /// Records a problem at the field `path`.
    pub fn at(&mut self, path: &[Seg<'_>], message: impl Into<String>) {
        let e = self.doc.error_at(path, message);
        // The same message at the same place once (inherited settings).
        if !self.found.iter().any(|f| f.at == e.at && f.message == e.message) {
            self.found.push(e);
        }
    }

    /// Records a problem found by a check of its own (with its place).
    pub fn add(&mut self, e: FileError) {
        if !self.found.iter().any(|f| f.at == e.at && f.message == e.message) {
            self.found.push(e);
        }
    }

    /// Records a problem unless `value` is within `lo..=hi` (and finite).
    pub fn range(&mut self, path: &[Seg<'_>], what: &str, value: f64, lo: f64, hi: f64) {
        if !(value.is_finite() && (lo..=hi).contains(&value)) {
            let n = crate::bounds::num;
            self.at(path, format!("{what} {} is out of range: it must be between {} and {}", n(value), n(lo), n(hi)));
        }
    }

    /// Whether nothing was found so far.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The document being checked.
    pub fn doc(&self) -> &'d Doc<'t> {
        self.doc
    }

    /// `Ok` when nothing was found; else every problem, in file order.
    pub fn finish(self) -> Result<(), FileError> {
        let mut found = self.found;
        found.sort_by_key(|e| e.at.unwrap_or((0, 0)));
        let mut it = found.into_iter();
        match it.next() {
            None => Ok(()),
            Some(mut first) => {
                first.more = it.collect();
                Err(first)
            }
        }
    }
}

/// Reads a file to a string, with a clear error.
pub fn read(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|e| FileError {
        file: path.display().to_string(),
        at: None,
        message: format!("cannot read: {e}"),
        more: Vec::new(),
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |p| before.len() - p - 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
        #[serde(default)]
        list: Vec<Item>,
    }
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        name: String,
    }

    #[test]
    fn unknown_field_error_names_line_and_field() {
        let text = "a = 1\n\n[[list]]\nname = \"x\"\nnmae = \"y\"\n";
        let err = Doc::parse::<T>("f.toml", text).err().unwrap();
        assert_eq!(err.at.map(|a| a.0), Some(5), "{err}");
        assert!(err.to_string().starts_with("f.toml:5:"), "{err}");
        assert!(err.message.contains("nmae"), "{err}");
    }

    #[test]
    fn wrong_type_error_names_line() {
        let err = Doc::parse::<T>("f.toml", "a = \"one\"\n").err().unwrap();
        assert_eq!(err.at.map(|a| a.0), Some(1));
    }

    #[test]
    fn locate_finds_array_of_tables_fields() {
        let text = "a = 1\n[[list]]\nname = \"x\"\n[[list]]\nname = \"y\"\n";
        let (_, doc) = Doc::parse::<T>("f.toml", text).unwrap();
        assert_eq!(doc.locate(&["list".into(), 1.into(), "name".into()]).map(|a| a.0), Some(5));
    }
}
