//! The one response body type every route returns.
//!
//! Bodies are `Bytes` handles (a cached object is never copied per
//! response), a few handles in a row (multipart ranges), a stream read from
//! disk (big files), or `Reset`: a body that fails at once, which makes
//! hyper drop the connection before the response head is flushed — how the
//! `reset` outage closes connections without answering.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Frame, SizeHint};

/// A boxed stream of body chunks.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A response body.
pub enum Body {
    /// One chunk (or none).
    Full(Option<Bytes>),
    /// Several chunks; `remaining` is their total length.
    Chunks {
        /// Chunks not yet sent.
        chunks: VecDeque<Bytes>,
        /// Bytes not yet sent.
        remaining: u64,
    },
    /// A stream that must yield exactly `remaining` bytes.
    Stream {
        /// The chunks.
        stream: ByteStream,
        /// Bytes not yet sent.
        remaining: u64,
    },
    /// Fails at once: hyper closes the connection without a response.
    Reset,
}

impl Body {
    /// No body.
    pub fn empty() -> Self {
        Body::Full(None)
    }

    /// One chunk.
    pub fn full(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        if b.is_empty() { Body::Full(None) } else { Body::Full(Some(b)) }
    }

    /// Several chunks in order.
    pub fn chunks(chunks: Vec<Bytes>) -> Self {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Body::Chunks { chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(), remaining }
    }

    /// A stream of exactly `len` bytes.
    pub(crate) fn stream(stream: ByteStream, len: u64) -> Self {
        Body::Stream { stream, remaining: len }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Chunks { chunks, remaining } => Poll::Ready(chunks.pop_front().map(|c| {
                *remaining -= c.len() as u64;
                Ok(Frame::data(c))
            })),
            Body::Stream { stream, remaining } => match stream.as_mut().poll_next(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Ok(c))) => {
                    let n = c.len() as u64;
                    if n > *remaining {
                        return Poll::Ready(Some(Err(io::Error::other("body stream longer than announced"))));
                    }
                    *remaining -= n;
                    Poll::Ready(Some(Ok(Frame::data(c))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) if *remaining > 0 => Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "body stream shorter than announced",
                )))),
                Poll::Ready(None) => Poll::Ready(None),
            },
            Body::Reset => {
                Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::ConnectionReset, "origin outage: reset"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::Chunks { chunks, .. } => chunks.is_empty(),
            Body::Stream { remaining, .. } => *remaining == 0,
            Body::Reset => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Chunks { remaining, .. } | Body::Stream { remaining, .. } => SizeHint::with_exact(*remaining),
            Body::Reset => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn chunks_arrive_in_order_with_an_exact_length() {
        let b = Body::chunks(vec![Bytes::from_static(b"ab"), Bytes::new(), Bytes::from_static(b"cd")]);
        assert_eq!(http_body::Body::size_hint(&b).exact(), Some(4));
        let all = b.collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"abcd");
    }

    #[tokio::test]
    async fn a_short_stream_is_an_error() {
        let s: ByteStream = Box::pin(futures_util::stream::iter(vec![Ok(Bytes::from_static(b"ab"))]));
        assert!(Body::stream(s, 3).collect().await.is_err());
    }
}
