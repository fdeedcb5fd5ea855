//! Lines of a text trace, one at a time, in one reused buffer of at most
//! [`MAX_LINE`] bytes (a longer line is an error, not an allocation).

use std::io::{BufRead, Read};

use super::TraceError;

/// Longest accepted line, bytes.
pub const MAX_LINE: usize = 1 << 20;

/// A line reader that counts lines and refuses overlong or non-UTF-8 ones.
pub(crate) struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    number: u64,
    label: String,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    pub fn new(inner: R, label: &str) -> Self {
        Lines { inner, buf: Vec::with_capacity(256), number: 0, label: label.to_string(), done: false }
    }

    /// Ends the reader (after a fatal error).
    pub fn finish(&mut self) {
        self.done = true;
    }

    /// The next line (its 1-based number, its text without the line
    /// ending); `None` at the end.
    pub fn next_line(&mut self) -> Option<Result<(u64, &str), TraceError>> {
        if self.done {
            return None;
        }
        self.buf.clear();
        let limit = MAX_LINE as u64 + 1;
        let n = match self.inner.by_ref().take(limit).read_until(b'\n', &mut self.buf) {
            Ok(n) => n,
            Err(e) => {
                self.done = true;
                return Some(Err(TraceError::at(&self.label, "line", self.number + 1, None, format!("read: {e}"))));
            }
        };
        if n == 0 {
            self.done = true;
            return None;
        }
        self.number += 1;
        if self.buf.last() != Some(&b'\n') && self.buf.len() > MAX_LINE {
            self.done = true;
            return Some(Err(TraceError::at(
                &self.label,
                "line",
                self.number,
                None,
                format!("longer than {MAX_LINE} bytes"),
            )));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Some(Ok((self.number, s))),
            Err(e) => {
                Some(Err(TraceError::at(&self.label, "line", self.number, None, format!("not UTF-8 text ({e})"))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_stripped() {
        let mut l = Lines::new(&b"a\r\nb\n\nc"[..], "t");
        let mut got = Vec::new();
        while let Some(x) = l.next_line() {
            let (n, t) = x.unwrap();
            got.push((n, t.to_string()));
        }
        assert_eq!(got, vec![(1, "a".into()), (2, "b".into()), (3, "".into()), (4, "c".into())]);
    }

    #[test]
    fn an_overlong_line_is_an_error_not_an_allocation() {
        let long = vec![b'x'; MAX_LINE + 10];
        let mut l = Lines::new(&long[..], "t");
        let e = l.next_line().unwrap().unwrap_err();
        assert!(e.to_string().contains("line 1") && e.to_string().contains("longer than"), "{e}");
        assert!(l.next_line().is_none());
    }

    #[test]
    fn bad_utf8_names_the_line() {
        let mut l = Lines::new(&b"ok\n\xff\xfe\n"[..], "t");
        assert!(l.next_line().unwrap().is_ok());
        let e = l.next_line().unwrap().unwrap_err();
        assert!(e.to_string().starts_with("t: line 2: not UTF-8"), "{e}");
    }
}
