//! The response body type of the public listener: empty, one `Bytes`
//! (every hit, a revalidated miss: no copy, no box), or a stream (a miss
//! as it arrives, large objects and pass-through, relayed as they arrive).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;

/// A boxed error from a streamed body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body.
pub enum Body {
    /// No body.
    Empty,
    /// One chunk (taken when sent).
    Full(Option<Bytes>),
    /// A stream.
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// A body of one chunk.
    pub fn full(b: Bytes) -> Body {
        if b.is_empty() { Body::Empty } else { Body::Full(Some(b)) }
    }

    /// A text body.
    pub fn text(s: impl Into<String>) -> Body {
        Body::full(Bytes::from(s.into()))
    }

    /// A stream from any body.
    pub fn stream<B>(b: B) -> Body
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body::Stream(b.map_err(Into::into).boxed_unsync())
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Stream(s) => s.size_hint(),
        }
    }
}
