//! The workspace's module structure: no module cycle inside a crate.
//!
//! Each crate's `src/` is read as text: a file's top-level module is its
//! first path component under `src/` (`purge/log.rs` belongs to `purge`),
//! and every `crate::x` path in it (in `use` lines, in code, in
//! `crate::{x, y}` groups) is an edge to top-level module `x`. Comments,
//! string literals and `#[cfg(test)] mod tests { … }` blocks are skipped
//! (a test may reach up to build what it tests); the crate root (`lib.rs`,
//! `main.rs`), which declares and wires every module, is not a node.
//! Then any strongly connected component of two or more modules is a
//! cycle, reported with the lines that make its edges.
//!
//! `ARCHITECTURE.md` explains why cycles matter here: a newcomer reads a
//! crate bottom-up, and a cycle has no bottom.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Crates whose module graph must have no cycle.
const ACYCLIC: &[&str] =
    &["world", "api", "runtime", "bus", "edge", "origin", "geodns", "cachesim", "scenarios", "tests"];

/// Cycles that existed before this test and are not fixed yet, per crate
/// (each a sorted list of modules): debt, listed so that it can only
/// shrink. The test fails if one disappears (remove it here) or a new one
/// appears. There are none left; keep it that way.
const KNOWN: &[(&str, &[&str])] = &[];

/// One `crate::` reference: which module it names, from which file and line.
#[derive(Debug, Clone)]
struct Edge {
    to: String,
    file: PathBuf,
    line: usize,
}

/// Text with comments, string and char literals blanked to spaces (line
/// breaks kept, so line numbers stay right).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) && (i == 0 || !is_ident(b[i - 1])) {
            // raw string: r"…", r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < b.len() {
                if b[j] == b'"' && b[j + 1..].iter().take(hashes).filter(|x| **x == b'#').count() == hashes {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &x in &b[i..j.min(b.len())] {
                blank(&mut out, x);
            }
            i = j;
        } else if c == b'"' {
            blank(&mut out, c);
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            if i < b.len() {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'\'' {
            // a char literal ('x', '\n', '\u{1F600}') or a lifetime ('a)
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|x| *x == b'\'').map(|p| i + 2 + p)
            } else {
                let ch = std::str::from_utf8(&b[i + 1..]).ok().and_then(|s| s.chars().next()).map_or(1, char::len_utf8);
                (b.get(i + 1 + ch) == Some(&b'\'')).then_some(i + 1 + ch)
            };
            match end {
                Some(e) => {
                    out.resize(out.len() + e + 1 - i, b' ');
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `code` without `#[cfg(test)] mod name { … }` blocks (blanked, lines kept).
fn without_test_modules(code: &str) -> String {
    let mut s = code.to_string();
    while let Some(at) = s.find("#[cfg(test)]") {
        let rest = &s[at + "#[cfg(test)]".len()..];
        let trimmed = rest.trim_start();
        let body_start = if trimmed.starts_with("mod ") { trimmed.find('{') } else { None };
        let end = match body_start {
            Some(open) => {
                let open = at + "#[cfg(test)]".len() + (rest.len() - trimmed.len()) + open;
                let mut depth = 0usize;
                let mut end = s.len();
                for (k, ch) in s[open..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            None => at + "#[cfg(test)]".len(),
        };
        let blanked: String = s[at..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
        s.replace_range(at..end, &blanked);
    }
    s
}

/// The top-level modules named by `crate::` paths in `code`.
fn references(code: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(p) = code[from..].find("crate::") {
        let at = from + p;
        from = at + "crate::".len();
        if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b'$') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            // crate::{a, b::c, d::{e, f}}: the first segment of each item
            let mut depth = 0;
            let mut start = 0;
            let mut items = Vec::new();
            for (k, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        items.push(&group[start..k]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&group[start..k]);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            for item in items {
                let name: String = item.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    found.push((name, line));
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push((name, line));
            }
        }
    }
    found
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file under `src` belongs to (`None`: the crate
/// root or a binary).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    if first == "bin" || rel.components().count() == 1 && matches!(first, "lib.rs" | "main.rs") {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// The module graph of the crate whose sources are in `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeMap<String, Edge>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(src, f)).collect();
    let mut g: BTreeMap<String, BTreeMap<String, Edge>> =
        modules.iter().map(|m| (m.clone(), BTreeMap::new())).collect();
    for f in &files {
        let Some(from) = module_of(src, f) else { continue };
        let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (to, line) in references(&without_test_modules(&code_only(&text))) {
            if to != from && modules.contains(&to) {
                g.get_mut(&from).unwrap().entry(to.clone()).or_insert(Edge { to, file: f.clone(), line });
            }
        }
    }
    g
}

/// Strongly connected components of two or more nodes (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeMap<String, Edge>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeMap<String, Edge>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g[v].keys() {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let l = t.low[w.as_str()].min(t.low[v]);
                t.low.insert(v, l);
            } else if t.on.contains(w.as_str()) {
                let l = t.index[w.as_str()].min(t.low[v]);
                t.low.insert(v, l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                t.out.push(c);
            }
        }
    }
    let mut t =
        T { g, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: Vec::new() };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The edges inside `cycle`, as `a -> b (file:line)` lines.
fn explain(g: &BTreeMap<String, BTreeMap<String, Edge>>, cycle: &[String], root: &Path) -> String {
    let mut s = String::new();
    for a in cycle {
        for (b, e) in &g[a] {
            if cycle.contains(b) {
                let file = e.file.strip_prefix(root).unwrap_or(&e.file);
                s.push_str(&format!("    {a} -> {} ({}:{})\n", e.to, file.display(), e.line));
            }
        }
    }
    s
}

#[test]
fn no_crate_has_a_module_cycle() {
    let root = workspace();
    let mut problems = String::new();
    for krate in ACYCLIC {
        let g = graph(&root.join(krate).join("src"));
        assert!(g.len() > 1, "{krate}: no modules found; is the path right?");
        let known: Vec<Vec<String>> =
            KNOWN.iter().filter(|(k, _)| k == krate).map(|(_, c)| c.iter().map(|s| s.to_string()).collect()).collect();
        let found = cycles(&g);
        for c in &found {
            if !known.contains(c) {
                problems.push_str(&format!("{krate}: module cycle {}\n{}", c.join(" ↔ "), explain(&g, c, &root)));
            }
        }
        for c in &known {
            if !found.contains(c) {
                problems.push_str(&format!("{krate}: known cycle {c:?} is gone: remove it from KNOWN\n"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{problems}");
}

/// The checker itself: a planted cycle is found, with its lines; what only
/// a comment, a string or a test module mentions is not an edge.
#[test]
fn the_checker_finds_a_planted_cycle_and_ignores_comments_strings_and_tests() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::create_dir_all(src.join("b")).unwrap();
    fs::write(src.join("lib.rs"), "mod a; mod b; mod c; use crate::a::X;").unwrap();
    fs::write(src.join("a.rs"), "use crate::{c::Z, b};\npub struct X;").unwrap();
    fs::write(src.join("b/mod.rs"), "pub mod inner;").unwrap();
    fs::write(src.join("b/inner.rs"), "fn f() -> crate::a::X { crate::a::X }").unwrap();
    fs::write(
        src.join("c.rs"),
        "// crate::a\n/* crate::b */\nconst S: &str = \"crate::a\";\nconst C: char = '\"';\n\
         pub struct Z<'a>(&'a str);\n#[cfg(test)]\nmod tests { use crate::a::X; }\n",
    )
    .unwrap();
    let g = graph(src);
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
    assert!(g["c"].is_empty(), "{:?}", g["c"]);
    let why = explain(&g, &["a".into(), "b".into()], src);
    assert!(why.contains("a -> b (a.rs:1)") && why.contains("b -> a (b/inner.rs:1)"), "{why}");
}

/// Where `impl … EdgeState` blocks are, as `file:line` (code only:
/// comments and strings do not count). A trait implemented for it counts
/// too: its methods would be the state's methods all the same.
fn edge_state_impls(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for f in &files {
        let code = code_only(&fs::read_to_string(f).unwrap());
        for (n, line) in code.lines().enumerate() {
            let words: Vec<&str> =
                line.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
            let Some(i) = words.iter().position(|w| *w == "impl") else { continue };
            // `impl EdgeState`, `impl Trait for EdgeState`, `impl<T> Trait<T> for EdgeState`
            let names = &words[i + 1..];
            let head = match names.iter().position(|w| *w == "for") {
                Some(k) => names.get(k + 1),
                None => names.iter().find(|w| w.starts_with(char::is_uppercase)),
            };
            if head == Some(&"EdgeState") {
                found.push(format!("{}:{}", f.strip_prefix(src).unwrap().display(), n + 1));
            }
        }
    }
    found
}

/// Issue 13: an edge's shared state is a struct of owners, not a hub that
/// every module extends. Its methods are in the file that defines it
/// (`edge/src/state.rs`); each module's behaviour is on its own type or in
/// functions that take the parts they use.
#[test]
fn edge_state_is_extended_only_where_it_is_defined() {
    let src = workspace().join("edge").join("src");
    let outside: Vec<String> = edge_state_impls(&src).into_iter().filter(|at| !at.starts_with("state.rs:")).collect();
    assert!(outside.is_empty(), "`impl EdgeState` outside edge/src/state.rs: {outside:?}");
}

/// The checker of the test above finds the forms it names.
#[test]
fn the_impl_checker_finds_inherent_and_trait_impls() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::write(src.join("state.rs"), "pub struct EdgeState;\nimpl EdgeState {}\n").unwrap();
    fs::write(src.join("a.rs"), "// impl EdgeState\nconst S: &str = \"impl EdgeState\";\nimpl Other {}\n").unwrap();
    fs::write(src.join("b.rs"), "use x;\nimpl<T> From<T> for EdgeState {}\n").unwrap();
    fs::write(src.join("c.rs"), "impl crate::state::EdgeState {}\n").unwrap();
    let found = edge_state_impls(src);
    assert_eq!(found, ["b.rs:2", "c.rs:1", "state.rs:2"]);
}
