//! A response body still arriving from upstream, read by every client
//! collapsed on its fill while it arrives (cut-through, issue 14 item 5).
//!
//! The fill's task is the only writer ([`Feeder`]): it appends each chunk
//! as it comes off the upstream connection, and ends the body complete,
//! failed, or handed off (see below). Every client of the fill reads it
//! through its own [`Reader`] from the first byte, however late it joined,
//! and waits for more at the end of what has arrived. A body that fails
//! mid-way makes every reader fail, so each client's connection is cut
//! (hyper aborts a response whose body errors): a client never gets a
//! short body that looks complete.
//!
//! What is kept is the chunks as received (slices of the upstream
//! connection's read buffers, shared by the readers, never copied per
//! reader); the stored copy is made once, at the end, by the fill
//! ([`Feeder::chunks`]).
//!
//! Readers never have a declared length whole before the feeder ends the
//! body: the byte that completes it is held back until then
//! ([`Feeder::push`]). hyper ends a response once its declared length is
//! sent, so a client that had it all could ask again while the fill is
//! still storing it, and join that fill instead of hitting.
//!
//! A body without a declared length that grows past the largest object the
//! edge buffers is *handed off*: the rest of the upstream body goes to the
//! client that started the fill alone (read straight from upstream once it
//! has read what was kept), the other readers fail, and nothing is stored,
//! so one response never holds more than that limit in memory.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use parking_lot::Mutex;

use crate::body::{Body, BoxError};

/// The shared body (readers hold it in an `Arc`).
pub struct Growing {
    state: Mutex<State>,
    /// The length the upstream declared, when it did.
    declared: Option<u64>,
}

struct State {
    chunks: Vec<Bytes>,
    /// Their total length.
    len: u64,
    end: End,
    /// Readers (and waiters for the whole) at the end of what arrived.
    wakers: Vec<Waker>,
}

enum End {
    Open,
    Complete,
    Failed(String),
    /// Too big to keep: the rest is the starter's (taken by its reader).
    HandedOff(Option<Body>),
}

impl Growing {
    /// An empty body, and the one writer for it. `declared`: the length
    /// the upstream announced, if any (readers report it as their exact
    /// size).
    pub fn new(declared: Option<u64>) -> (Arc<Growing>, Feeder) {
        let g = Arc::new(Growing {
            state: Mutex::new(State { chunks: Vec::new(), len: 0, end: End::Open, wakers: Vec::new() }),
            declared,
        });
        (g.clone(), Feeder { g: Some(g), held: Bytes::new() })
    }

    /// A reader from the first byte; `starter`: the client that started
    /// the fill (the one that keeps reading a handed-off body).
    pub fn reader(self: &Arc<Self>, starter: bool) -> Reader {
        Reader { g: self.clone(), next: 0, starter, rest: None }
    }

    /// Waits for the whole body (a range of a miss is cut from it).
    pub async fn whole(&self) -> Result<Bytes, String> {
        std::future::poll_fn(|cx| {
            let mut s = self.state.lock();
            match &s.end {
                End::Open => {
                    register(&mut s.wakers, cx.waker());
                    Poll::Pending
                }
                End::Complete => Poll::Ready(Ok(concat(&s.chunks))),
                End::Failed(why) => Poll::Ready(Err(why.clone())),
                End::HandedOff(_) => Poll::Ready(Err("the response is too big to buffer".into())),
            }
        })
        .await
    }

    /// Gives the readers `chunk` (none if it is empty); the length so far.
    fn append(&self, chunk: Bytes) -> u64 {
        let (len, wakers) = {
            let mut s = self.state.lock();
            if chunk.is_empty() {
                return s.len;
            }
            s.len += chunk.len() as u64;
            s.chunks.push(chunk);
            (s.len, std::mem::take(&mut s.wakers))
        };
        wakers.into_iter().for_each(Waker::wake);
        len
    }

    fn finish(&self, end: End) {
        let wakers = {
            let mut s = self.state.lock();
            if !matches!(s.end, End::Open) {
                return;
            }
            s.end = end;
            std::mem::take(&mut s.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

fn register(wakers: &mut Vec<Waker>, w: &Waker) {
    if !wakers.iter().any(|x| x.will_wake(w)) {
        wakers.push(w.clone());
    }
}

/// One contiguous copy of exactly the body's bytes (a stored body must not
/// keep the upstream connection's read buffers alive: docs/memory.md).
fn concat(chunks: &[Bytes]) -> Bytes {
    let mut b = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    for c in chunks {
        b.extend_from_slice(c);
    }
    b.freeze()
}

/// The one writer of a [`Growing`] body. Dropped before it ended the
/// body (its task panicked or was cancelled), it fails it, so no reader
/// waits forever.
pub struct Feeder {
    g: Option<Arc<Growing>>,
    /// The byte that completes the declared length, held back from the
    /// readers until the body ends complete (or is handed off).
    held: Bytes,
}

impl Feeder {
    fn g(&self) -> &Growing {
        // Taken only by the consuming methods and drop.
        self.g.as_deref().unwrap_or_else(|| unreachable!("a feeder is used after it ended"))
    }

    /// Appends a chunk (the readers get it, except the byte that
    /// completes the declared length, which they get when the body ends);
    /// returns the length received so far.
    pub fn push(&mut self, mut chunk: Bytes) -> u64 {
        let g = self.g.as_deref().unwrap_or_else(|| unreachable!("a feeder is used after it ended"));
        let so_far = g.state.lock().len;
        if !chunk.is_empty() && Some(so_far + chunk.len() as u64) == g.declared {
            self.held = chunk.split_off(chunk.len() - 1);
        }
        g.append(chunk) + self.held.len() as u64
    }

    /// Everything received, as received (shared, not copied): the store
    /// copies it once, after the head (`Head::with_body`), before the
    /// readers get the held-back byte ([`crate::fetch::Fetcher::complete`]).
    pub fn chunks(&self) -> Vec<Bytes> {
        let mut chunks = self.g().state.lock().chunks.clone();
        if !self.held.is_empty() {
            chunks.push(self.held.clone());
        }
        chunks
    }

    /// One copy of everything received and then `held`, in a buffer of
    /// its own.
    pub fn whole_with(&self, held: &Bytes) -> Bytes {
        let mut chunks = self.g().state.lock().chunks.clone();
        chunks.push(held.clone());
        concat(&chunks)
    }

    /// The body is complete: readers get the held-back byte, and end when
    /// they have read it.
    pub fn complete(mut self) {
        self.release_held();
        if let Some(g) = self.g.take() {
            g.finish(End::Complete);
        }
    }

    fn release_held(&mut self) {
        if let Some(g) = &self.g {
            g.append(std::mem::take(&mut self.held));
        }
    }

    /// The upstream failed mid-body: every reader fails (its client's
    /// response is cut, never completed short).
    pub fn fail(mut self, why: String) {
        if let Some(g) = self.g.take() {
            g.finish(End::Failed(why));
        }
    }

    /// Too big to keep: `rest` (the rest of the upstream body) goes to the
    /// starter's reader; the other readers fail.
    pub fn hand_off(mut self, rest: Body) {
        self.release_held();
        if let Some(g) = self.g.take() {
            g.finish(End::HandedOff(Some(rest)));
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        if let Some(g) = self.g.take() {
            g.finish(End::Failed("the fill ended before the body".into()));
        }
    }
}

/// One client's read of a [`Growing`] body.
pub struct Reader {
    g: Arc<Growing>,
    /// The next chunk to read.
    next: usize,
    starter: bool,
    /// The handed-off rest of the upstream body, once taken.
    rest: Option<Body>,
}

impl http_body::Body for Reader {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(rest) = &mut this.rest {
            return Pin::new(rest).poll_frame(cx);
        }
        let mut s = this.g.state.lock();
        if let Some(c) = s.chunks.get(this.next) {
            this.next += 1;
            return Poll::Ready(Some(Ok(Frame::data(c.clone()))));
        }
        match &mut s.end {
            End::Open => {
                register(&mut s.wakers, cx.waker());
                Poll::Pending
            }
            End::Complete => Poll::Ready(None),
            End::Failed(why) => Poll::Ready(Some(Err(why.clone().into()))),
            End::HandedOff(rest) if this.starter => match rest.take() {
                Some(rest) => {
                    drop(s);
                    this.rest = Some(rest);
                    Pin::new(this).poll_frame(cx)
                }
                None => Poll::Ready(Some(Err("the rest of the body was taken".into()))),
            },
            End::HandedOff(_) => Poll::Ready(Some(Err("the response grew too big to share".into()))),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.g.declared {
            Some(n) if self.next == 0 && self.rest.is_none() => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn readers_get_every_chunk_from_the_start_however_late_they_join() {
        let (g, mut f) = Growing::new(None);
        let mut early = g.reader(true);
        f.push(Bytes::from_static(b"ab"));
        assert_eq!(early.frame().await.unwrap().unwrap().into_data().unwrap(), "ab");
        let late = g.reader(false);
        let pending = tokio::spawn(async move { late.collect().await.map(|b| b.to_bytes()) });
        f.push(Bytes::from_static(b"cd"));
        f.complete();
        assert_eq!(pending.await.unwrap().unwrap(), "abcd");
        assert_eq!(early.collect().await.unwrap().to_bytes(), "cd");
        assert_eq!(g.whole().await.unwrap(), "abcd");
    }

    /// A reader that had a declared length whole could end its response
    /// before the fill stored it (hyper ends a response at its length): its
    /// client's next request would join the fill, not hit (commit 0899fc7).
    #[tokio::test]
    async fn the_byte_that_completes_a_declared_length_waits_for_the_end() {
        use futures_util::FutureExt;
        let (g, mut f) = Growing::new(Some(4));
        let mut r = g.reader(false);
        assert_eq!(f.push(Bytes::from_static(b"ab")), 2);
        assert_eq!(f.push(Bytes::from_static(b"cd")), 4);
        assert_eq!(r.frame().await.unwrap().unwrap().into_data().unwrap(), "ab");
        assert_eq!(r.frame().await.unwrap().unwrap().into_data().unwrap(), "c");
        assert!(r.frame().now_or_never().is_none(), "the last byte before the body ended");
        assert_eq!(f.chunks().concat(), b"abcd", "the store gets it whole");
        f.complete();
        assert_eq!(r.collect().await.unwrap().to_bytes(), "d");
        // Handed off, the held byte comes before the rest.
        let (g, mut f) = Growing::new(Some(3));
        let starter = g.reader(true);
        f.push(Bytes::from_static(b"abc"));
        f.hand_off(Body::full(Bytes::from_static(b"!")));
        assert_eq!(starter.collect().await.unwrap().to_bytes(), "abc!");
    }

    #[tokio::test]
    async fn a_failed_body_fails_every_reader_and_a_dropped_feeder_fails_it() {
        let (g, mut f) = Growing::new(Some(10));
        let r = g.reader(true);
        f.push(Bytes::from_static(b"abc"));
        f.fail("reset".into());
        assert!(r.collect().await.is_err());
        let (g, f) = Growing::new(None);
        drop(f);
        assert!(g.reader(true).collect().await.is_err());
        assert!(g.whole().await.is_err());
    }

    #[tokio::test]
    async fn a_handed_off_body_continues_for_the_starter_only() {
        let (g, mut f) = Growing::new(None);
        let (starter, other) = (g.reader(true), g.reader(false));
        f.push(Bytes::from_static(b"kept "));
        f.hand_off(Body::full(Bytes::from_static(b"rest")));
        assert_eq!(starter.collect().await.unwrap().to_bytes(), "kept rest");
        assert!(other.collect().await.is_err());
    }
}
