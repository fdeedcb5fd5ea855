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

/// One step of a path into a TOML document, owned (see [`Seg`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A table key.
    Name(String),
    /// An array index.
    Index(usize),
}

impl Key {
    fn matches(&self, s: &Seg<'_>) -> bool {
        match (self, s) {
            (Key::Name(a), Seg::Key(b)) => a == b,
            (Key::Index(a), Seg::Index(b)) => a == b,
            _ => false,
        }
    }

    fn seg(&self) -> Seg<'_> {
        match self {
            Key::Name(n) => Seg::Key(n),
            Key::Index(i) => Seg::Index(*i),
        }
    }
}

impl From<&Seg<'_>> for Key {
    fn from(s: &Seg<'_>) -> Key {
        match s {
            Seg::Key(k) => Key::Name(k.to_string()),
            Seg::Index(i) => Key::Index(*i),
        }
    }
}

/// Where each table, array and value of a TOML text starts (byte offsets):
/// an owned copy of the parser's spans, so a [`Doc`] needs no borrow.
#[derive(Debug, Clone)]
struct Node {
    start: usize,
    kids: Kids,
}

#[derive(Debug, Clone)]
enum Kids {
    Leaf,
    /// Key and value.
    Table(Vec<(String, Node)>),
    Array(Vec<Node>),
}

impl Node {
    fn of(v: &toml::Spanned<DeValue<'_>>) -> Node {
        let kids = match v.get_ref() {
            DeValue::Table(t) => Kids::Table(t.iter().map(|(k, v)| (k.get_ref().to_string(), Node::of(v))).collect()),
            DeValue::Array(a) => Kids::Array(a.iter().map(Node::of).collect()),
            _ => Kids::Leaf,
        };
        Node { start: v.span().start, kids }
    }
}

/// A parsed TOML text that can locate fields for error messages.
///
/// A document may be *layered*: a base text with other documents merged
/// over parts of it ([`Doc::overlay`]: a world that `extends` another, a
/// scenario's overrides of its world, a scenario arm). Each merged value
/// remembers the document and path it came from, so a problem found in the
/// merged result is reported at the line of the file that set it.
#[derive(Debug, Clone)]
pub struct Doc {
    file: String,
    text: String,
    root: Option<Node>,
    layers: Vec<Doc>,
    /// Merged values, in the order they were set: the path in the merged
    /// document, the layer, the path in that layer.
    set: Vec<(Vec<Key>, usize, Vec<Key>)>,
}

impl Doc {
    /// Deserializes `text` into `T`; on failure the error carries the line.
    pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<(T, Doc), FileError> {
        let value: T = toml::from_str(text).map_err(|e| FileError {
            file: file.to_string(),
            at: e.span().map(|s| line_col(text, s.start)),
            message: e.message().trim().to_string(),
            more: Vec::new(),
        })?;
        Ok((value, Doc::located(file, text)))
    }

    /// Parses `text` as a table, without a schema (syntax errors only): a
    /// document to merge or to [`Doc::deserialize`] later.
    pub fn parse_table(file: &str, text: &str) -> Result<(toml::Table, Doc), FileError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| FileError {
            file: file.to_string(),
            at: e.span().map(|s| line_col(text, s.start)),
            message: e.message().trim().to_string(),
            more: Vec::new(),
        })?;
        Ok((table, Doc::located(file, text)))
    }

    fn located(file: &str, text: &str) -> Doc {
        let root = DeTable::parse(text).ok().map(|t| {
            let span = t.span();
            Node::of(&toml::Spanned::new(span, DeValue::Table(t.into_inner())))
        });
        Doc { file: file.to_string(), text: text.to_string(), root, layers: Vec::new(), set: Vec::new() }
    }

    /// Deserializes a (merged) table into `T`; an error is located at the
    /// field it names, in whichever layer set it. Every bad field is
    /// reported at once (see [`Doc::deserialize_all`]).
    pub fn deserialize<T: DeserializeOwned>(&self, table: toml::Table) -> Result<T, FileError> {
        let (value, found) = self.deserialize_all(table);
        match (value, combine(found)) {
            (Some(v), None) => Ok(v),
            (_, Some(e)) => Err(e),
            (None, None) => Err(self.error_at(&[], "cannot be read")),
        }
    }

    /// Deserializes a table into `T`, collecting every bad field: a field
    /// with a wrong type or an unknown name is recorded, taken out, and the
    /// rest read again, so one pass finds them all. The value, when the rest
    /// could be read (a missing required field stops it), and the problems.
    pub fn deserialize_all<T: DeserializeOwned>(&self, mut table: toml::Table) -> (Option<T>, Vec<FileError>) {
        let mut found = Vec::new();
        for _ in 0..64 {
            let e = match serde_path_to_error::deserialize(toml::Value::Table(table.clone())) {
                Ok(v) => return (Some(v), found),
                Err(e) => e,
            };
            let mut path: Vec<Key> = e
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Map { key } => Some(Key::Name(key.clone())),
                    serde_path_to_error::Segment::Seq { index } => Some(Key::Index(*index)),
                    _ => None,
                })
                .collect();
            let message = e.inner().message().trim().to_string();
            if message.starts_with("missing field") {
                // after a bad field was taken out, a missing one is its echo
                if found.is_empty() {
                    let segs: Vec<Seg<'_>> = path.iter().map(Key::seg).collect();
                    found.push(self.error_at(&segs, message));
                }
                return (None, found);
            }
            // An unknown field is reported at its table: point at the key.
            if let Some(name) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next())
                && path.last() != Some(&Key::Name(name.to_string()))
            {
                path.push(Key::Name(name.to_string()));
            }
            let segs: Vec<Seg<'_>> = path.iter().map(Key::seg).collect();
            found.push(self.error_at(&segs, message));
            if !remove(&mut table, &path) {
                return (None, found);
            }
        }
        (None, found)
    }

    /// Adds `layer` (another document) that values can come from; its index
    /// for [`Doc::overlay`].
    pub fn add_layer(&mut self, layer: Doc) -> usize {
        self.layers.push(layer);
        self.layers.len() - 1
    }

    /// Merges `patch` (the value at `from` in layer `layer`) into `root`, this
    /// document's table, at the path `at`: tables merge key by key, an array
    /// of named tables (`[[edge]]`, `[[region]]`) merges with a table keyed
    /// by name (`edge.seoul.memory = …`; an unknown name adds an element),
    /// anything else replaces. Every value set remembers where it came
    /// from, so [`Doc::error_at`] finds it in the layer's file. With `at`
    /// empty, `patch` must be a table (merged at the root).
    pub fn overlay(&mut self, root: &mut toml::Table, at: &[&str], patch: &toml::Value, layer: usize, from: &[Key]) {
        let toml::Value::Table(wrapped) = nest(at, patch.clone()) else { return };
        let depth = at.len();
        let mut path = Vec::new();
        let mut rel = Vec::new();
        let set = &mut self.set;
        merge_into(root, &wrapped, &mut path, &mut rel, &mut |p, r| {
            let mut src = from.to_vec();
            src.extend_from_slice(r.get(depth..).unwrap_or(&[]));
            set.push((p.to_vec(), layer, src));
        });
    }

    /// A document with no text (values merged into it come from layers).
    pub fn empty(file: &str) -> Doc {
        Doc { file: file.to_string(), text: String::new(), root: None, layers: Vec::new(), set: Vec::new() }
    }

    /// An error at the field found by `path` (or the file, if not found).
    pub fn error_at(&self, path: &[Seg<'_>], message: impl Into<String>) -> FileError {
        let (file, at) = self.place(path);
        FileError { file: file.to_string(), at, message: message.into(), more: Vec::new() }
    }

    /// Line and column of the value at `path`; the deepest existing prefix
    /// of the path when the full path is absent (a missing key).
    pub fn locate(&self, path: &[Seg<'_>]) -> Option<(usize, usize)> {
        self.place(path).1
    }

    /// The file and the place of `path`, through the layers.
    fn place(&self, path: &[Seg<'_>]) -> (&str, Option<(usize, usize)>) {
        let best = self
            .set
            .iter()
            .rev()
            .filter(|(p, _, _)| p.len() <= path.len() && p.iter().zip(path).all(|(k, s)| k.matches(s)))
            .max_by_key(|(p, _, _)| p.len());
        if let Some((p, layer, src)) = best {
            let mut inner: Vec<Seg<'_>> = src.iter().map(Key::seg).collect();
            inner.extend_from_slice(&path[p.len()..]);
            return self.layers[*layer].place(&inner);
        }
        let Some(mut cur) = self.root.as_ref() else { return (&self.file, None) };
        let mut at = None;
        for seg in path {
            let next = match (&cur.kids, seg) {
                (Kids::Table(t), Seg::Key(k)) => t.iter().find(|(n, _)| n == k).map(|(_, v)| v),
                (Kids::Array(a), Seg::Index(i)) => a.get(*i),
                _ => None,
            };
            match next {
                Some(v) => {
                    at = Some(v.start);
                    cur = v;
                }
                None => break,
            }
        }
        (&self.file, at.map(|a| line_col(&self.text, a)))
    }

    /// The file label.
    pub fn file(&self) -> &str {
        &self.file
    }
}

/// The merge of [`Doc::overlay`]; `set(path, source)` for every value set.
fn merge_into(
    base: &mut toml::Table,
    patch: &toml::Table,
    at: &mut Vec<Key>,
    from: &mut Vec<Key>,
    set: &mut dyn FnMut(&[Key], &[Key]),
) {
    for (k, v) in patch {
        at.push(Key::Name(k.clone()));
        from.push(Key::Name(k.clone()));
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) => merge_into(b, p, at, from, set),
            (Some(toml::Value::Array(items)), toml::Value::Table(p)) if is_named(items) => {
                for (name, pv) in p {
                    let i = match items.iter().position(|x| name_of(x) == Some(name)) {
                        Some(i) => i,
                        None => {
                            let mut t = toml::Table::new();
                            t.insert("name".into(), toml::Value::String(name.clone()));
                            items.push(toml::Value::Table(t));
                            items.len() - 1
                        }
                    };
                    at.push(Key::Index(i));
                    from.push(Key::Name(name.clone()));
                    match (&mut items[i], pv) {
                        (toml::Value::Table(b), toml::Value::Table(p)) => merge_into(b, p, at, from, set),
                        (slot, pv) => {
                            *slot = pv.clone();
                            set(at, from);
                        }
                    }
                    at.pop();
                    from.pop();
                }
            }
            (_, v) => {
                base.insert(k.clone(), v.clone());
                set(at, from);
            }
        }
        at.pop();
        from.pop();
    }
}

/// Takes the value at `path` out of `table` (the last step a table key:
/// taking an array element would renumber the rest); whether it was there.
fn remove(table: &mut toml::Table, path: &[Key]) -> bool {
    let Some((Key::Name(last), parents)) = path.split_last() else { return false };
    let mut root = toml::Value::Table(std::mem::take(table));
    let mut cur = Some(&mut root);
    for k in parents {
        cur = match (cur, k) {
            (Some(toml::Value::Table(t)), Key::Name(n)) => t.get_mut(n),
            (Some(toml::Value::Array(a)), Key::Index(i)) => a.get_mut(*i),
            _ => None,
        };
    }
    let removed = match cur {
        Some(toml::Value::Table(t)) => t.remove(last).is_some(),
        _ => false,
    };
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    removed
}

/// `value` placed at the dotted path `at` (`["edge", "seoul", "memory"]`)
/// of otherwise empty tables: `{edge = {seoul = {memory = value}}}`; with
/// `at` empty, `value` itself.
pub fn nest(at: &[&str], value: toml::Value) -> toml::Value {
    at.iter().rev().fold(value, |inner, k| toml::Value::Table(toml::Table::from_iter([(k.to_string(), inner)])))
}

/// Problems as one error: the first, the rest in `more`, in file order.
pub fn combine(mut found: Vec<FileError>) -> Option<FileError> {
    found.sort_by(|a, b| (a.at.is_none(), &a.file, a.at).cmp(&(b.at.is_none(), &b.file, b.at)));
    found.dedup();
    let mut it = found.into_iter();
    let mut first = it.next()?;
    first.more = it.collect();
    Some(first)
}

/// An array of tables that each have a string `name`.
fn is_named(items: &[toml::Value]) -> bool {
    !items.is_empty() && items.iter().all(|x| name_of(x).is_some())
}

fn name_of(v: &toml::Value) -> Option<&String> {
    match v.as_table()?.get("name")? {
        toml::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Problems found by one checking pass over a file, each located.
pub struct Problems<'d> {
    doc: &'d Doc,
    found: Vec<FileError>,
}

impl<'d> Problems<'d> {
    /// An empty list for `doc`.
    pub fn new(doc: &'d Doc) -> Self {
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
    pub fn doc(&self) -> &'d Doc {
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
