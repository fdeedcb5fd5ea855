//! libCacheSim's oracleGeneral binary format: a sequence of 24-byte
//! little-endian records, no header:
//!
//! ```text
//! offset 0  u32  clock time (seconds)
//! offset 4  u64  object id
//! offset 12 u32  object size (bytes)
//! offset 16 i64  index of the next request for the same object
//!                (-1 or i64::MAX: never again)
//! ```
//!
//! The next-access field is checked for being -1, i64::MAX or a later
//! record index, and otherwise not used: Belady computes its own from the
//! requests (see `docs/traces.md`). A file whose length is not a multiple of
//! 24 ends in a truncated record, reported with its number.

use std::io::{Read, Write};

use super::{Op, Request, TraceError};

/// Bytes per record.
pub const RECORD: usize = 24;

/// Streams the records of an oracleGeneral file.
pub struct OracleReader<R> {
    inner: R,
    label: String,
    number: u64,
    done: bool,
}

impl<R: Read> OracleReader<R> {
    /// A reader over `inner`; `label` names it in errors.
    pub fn new(inner: R, label: &str) -> Self {
        OracleReader { inner, label: label.to_string(), number: 0, done: false }
    }
}

impl<R: Read> Iterator for OracleReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut rec = [0u8; RECORD];
        let mut got = 0;
        while got < RECORD {
            match self.inner.read(&mut rec[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(TraceError::at(
                        &self.label,
                        "record",
                        self.number + 1,
                        None,
                        format!("read: {e}"),
                    )));
                }
            }
        }
        if got == 0 {
            self.done = true;
            return None;
        }
        self.number += 1;
        if got < RECORD {
            self.done = true;
            return Some(Err(TraceError::at(
                &self.label,
                "record",
                self.number,
                None,
                format!("truncated: {got} of {RECORD} bytes (the file is not a whole number of oracleGeneral records)"),
            )));
        }
        let u32_at = |o: usize| u32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]]);
        let mut id = [0u8; 8];
        id.copy_from_slice(&rec[4..12]);
        let mut next = [0u8; 8];
        next.copy_from_slice(&rec[16..24]);
        let next = i64::from_le_bytes(next);
        // Records are 0-based in the next-access field, 1-based in messages.
        let index = self.number as i64 - 1;
        if next != -1 && next != i64::MAX && next <= index {
            return Some(Err(TraceError::at(
                &self.label,
                "record",
                self.number,
                Some("next_access"),
                format!("{next} is not after this record (index {index}); use -1 for never"),
            )));
        }
        Some(Ok(Request {
            time_ms: u32_at(0) as u64 * 1000,
            key: u64::from_le_bytes(id),
            size: u32_at(12) as u64,
            op: Op::Read,
            ttl: None,
            client: None,
        }))
    }
}

/// Writes requests as oracleGeneral records, with correct next-access
/// indices (computed here, so the whole sequence is needed). Times are
/// truncated to whole seconds; sizes above `u32::MAX` are refused.
pub fn write(out: &mut impl Write, reqs: &[(u32, u64, u32)]) -> std::io::Result<()> {
    let mut next = vec![-1i64; reqs.len()];
    let mut last: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (i, r) in reqs.iter().enumerate().rev() {
        if let Some(j) = last.insert(r.1, i) {
            next[i] = j as i64;
        }
    }
    for (r, n) in reqs.iter().zip(next) {
        let mut rec = [0u8; RECORD];
        rec[0..4].copy_from_slice(&r.0.to_le_bytes());
        rec[4..12].copy_from_slice(&r.1.to_le_bytes());
        rec[12..16].copy_from_slice(&r.2.to_le_bytes());
        rec[16..24].copy_from_slice(&n.to_le_bytes());
        out.write_all(&rec)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: Vec<u8>) -> Vec<Result<Request, TraceError>> {
        OracleReader::new(&bytes[..], "t.bin").collect()
    }

    #[test]
    fn records_round_trip_through_the_writer() {
        let mut b = Vec::new();
        write(&mut b, &[(1, 7, 100), (2, 8, 200), (3, 7, 100)]).unwrap();
        assert_eq!(b.len(), 3 * RECORD);
        // next-access of record 0 is record 2
        assert_eq!(i64::from_le_bytes(b[16..24].try_into().unwrap()), 2);
        assert_eq!(i64::from_le_bytes(b[40..48].try_into().unwrap()), -1);
        let got: Vec<Request> = read(b).into_iter().map(Result::unwrap).collect();
        assert_eq!(got.len(), 3);
        assert_eq!((got[1].time_ms, got[1].key, got[1].size), (2000, 8, 200));
    }

    #[test]
    fn a_truncated_record_is_located() {
        let mut b = Vec::new();
        write(&mut b, &[(1, 7, 100), (2, 8, 200)]).unwrap();
        b.truncate(RECORD + 10);
        let got = read(b);
        assert!(got[0].is_ok());
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.bin: record 2: truncated: 10 of 24 bytes (the file is not a whole number of oracleGeneral records)"
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_next_access_that_points_backwards_is_located() {
        let mut b = Vec::new();
        write(&mut b, &[(1, 7, 100), (2, 8, 200)]).unwrap();
        b[RECORD + 16..RECORD + 24].copy_from_slice(&0i64.to_le_bytes());
        let e = read(b).remove(1).unwrap_err();
        assert!(e.to_string().starts_with("t.bin: record 2, field `next_access`: 0 is not after"), "{e}");
        // i64::MAX means never, like -1
        let mut b = Vec::new();
        write(&mut b, &[(1, 7, 100)]).unwrap();
        b[16..24].copy_from_slice(&i64::MAX.to_le_bytes());
        assert!(read(b)[0].is_ok());
    }
}
