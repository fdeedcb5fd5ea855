//! What the world-file tests share: parse a world text, expect it refused,
//! and find the refusal at the line that holds a given text.

use world::World;

/// `text` as `bad.toml`, which must be refused.
pub fn refuse(text: &str) -> world::FileError {
    World::parse("bad.toml", text).expect_err("the world should be refused")
}

/// The 1-based line of `text` that holds `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

/// Every problem of the error (the first and the ones riding along).
pub fn messages(e: &world::FileError) -> Vec<(usize, String)> {
    e.all().map(|e| (e.at.map_or(0, |a| a.0), e.message.clone())).collect()
}

/// `text` is refused, one of its problems saying `says` at the line
/// holding `needle`, and the message names the file.
pub fn refused_at(text: &str, needle: &str, says: &str) {
    let err = refuse(text);
    let line = line_of(text, needle);
    assert!(
        messages(&err).iter().any(|(l, m)| *l == line && m.contains(says)),
        "wanted `{says}` at line {line}, got:\n{err}"
    );
    assert!(err.to_string().contains("bad.toml"), "the file is named: {err}");
}
