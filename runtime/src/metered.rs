//! Bytes and connections counted at the socket: a [`Traffic`] per listener
//! (or per upstream), fed by every [`Metered`] stream on it. What crossed
//! the socket (heads and framing included) is what the bill is made of.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes and connections through one listener, counted at the socket.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Bytes read from clients (request heads and bodies).
    pub bytes_in: AtomicU64,
    /// Bytes written to clients (response heads and bodies), as sent.
    pub bytes_out: AtomicU64,
    /// Connections accepted (those refused at the limit included).
    pub connections: AtomicU64,
    /// Connections refused (answered 503 and closed) at the connection limit.
    pub refused: AtomicU64,
}

impl Traffic {
    /// Bytes written to clients so far.
    pub fn out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }
    /// Bytes read from clients so far.
    pub fn input(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }
}

/// A stream that adds every byte read or written to a [`Traffic`].
pub struct Metered<S> {
    inner: S,
    traffic: Arc<Traffic>,
    /// Bytes already read (and counted) that reads yield again first.
    pre: Bytes,
}

impl<S> Metered<S> {
    /// Wraps a stream.
    pub fn new(inner: S, traffic: Arc<Traffic>) -> Self {
        Self { inner, traffic, pre: Bytes::new() }
    }

    /// The stream inside (for writes the stream cannot make itself, e.g.
    /// `sendfile`; count what they send with [`Metered::count_out`]).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Counts `n` bytes written to the stream by other means than this
    /// wrapper's writes.
    pub fn count_out(&self, n: u64) {
        self.traffic.bytes_out.fetch_add(n, Ordering::Relaxed);
    }

    /// The same stream, whose next reads yield `pre` (bytes read from it
    /// already) before the rest: a connection handed over part-way
    /// through, so the next reader sees the whole request.
    pub fn rewind(mut self, pre: Bytes) -> Self {
        self.pre = pre;
        self
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.pre.is_empty() {
            let n = self.pre.len().min(buf.remaining());
            buf.put_slice(&self.pre.split_to(n));
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.traffic.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.traffic.bytes_out.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            self.traffic.bytes_out.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl hyper_util::client::legacy::connect::Connection for Metered<TcpStream> {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.inner.connected()
    }
}
