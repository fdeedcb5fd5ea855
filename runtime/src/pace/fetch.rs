//! Receive-side pacing ([`Fetching`]): an edge's connections to an
//! upstream that paces nothing (your own origin) take the link on the
//! reader's side. The request goes out at once and starts the plan; the
//! response's bytes are handed to the reader by the model's rounds, as a
//! paced server's would arrive; the connection keeps its window like a
//! server's.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use world::{Clock, Link, World};

use super::{Paced, Pacer, Phase, Role, head};

/// Pacing of what an edge *receives* from an upstream that does not pace
/// itself (your own origin, `--origin URL`): the response bytes are handed
/// to the reader by the rounds of the link between the edge's region and
/// the origin's, as they would arrive over it ([`Fetching::wrap`]). Off
/// for cdnlab's own upstreams (origin, shield, peers, replicas), which
/// pace what they send: the edge must not pace them twice.
#[derive(Clone, Default)]
pub struct Fetching {
    pub(super) over: Option<(Link, Clock)>,
}

impl std::fmt::Debug for Fetching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.over {
            None => f.write_str("Fetching(off)"),
            Some((l, _)) => write!(f, "Fetching(over {:?})", l.rtt),
        }
    }
}

impl Fetching {
    /// Fetches are not paced here (the upstream paces, or nothing does).
    pub fn off() -> Fetching {
        Fetching { over: None }
    }

    /// Fetches by a node in region `here` from an upstream in region
    /// `there` of `world`, paced over the link between them on `clock`;
    /// off when the world says `[network] pacing = false` or either region
    /// is unknown.
    pub fn new(world: &World, here: &str, there: &str, clock: Clock) -> Fetching {
        match world.link(here, there) {
            Some(link) if world.network.pacing => Fetching { over: Some((link, clock)) },
            _ => Fetching::off(),
        }
    }

    /// Whether fetches are paced.
    pub fn is_on(&self) -> bool {
        self.over.is_some()
    }

    /// `io`, a connection opened from `local` to the upstream, with its
    /// responses paced as received (or not at all).
    pub fn wrap<S>(&self, io: S, local: SocketAddr) -> Paced<S> {
        let pacer = self.over.as_ref().map(|(link, clock)| {
            let mut p = Pacer::new(*link, clock.clone(), local);
            p.role = Role::Fetch;
            Box::new(p)
        });
        Paced { inner: io, pacer }
    }
}

impl Pacer {
    /// Fetching: bytes written to the upstream; the first of a request
    /// starts its clock (the handshakes of a new connection count from its
    /// connect, as a server counts them from accept).
    pub(super) fn asking(&mut self, first: &[u8]) {
        if !self.starts_request() {
            return;
        }
        let head = head::is_head_request(first);
        self.delivered = self.start_request(first.len() as u64);
        self.asked = self.time.since();
        self.phase = Phase::Handling { head };
    }

    /// Whether a response to a request written is being read.
    fn receiving(&self) -> bool {
        match &self.phase {
            Phase::Handling { .. } => true,
            Phase::Sending(s) => !s.over(),
            Phase::Idle | Phase::Holding { .. } => false,
        }
    }

    /// Fetching: reads the response, handing its bytes on as the model
    /// has them arrive. Bytes read early wait in `held` (only on paced
    /// fetches); nothing more is read while the plan allows none.
    pub(super) fn read_response<S: AsyncRead + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.held.is_empty() {
            // Past the response's end (an upstream sending more than it
            // announced) the bytes go as they are.
            let n = match self.receiving() {
                true => match self.allow(cx, &[]) {
                    Poll::Ready(n) => n,
                    Poll::Pending => return Poll::Pending,
                },
                false => u64::MAX,
            };
            let n = usize::try_from(n).unwrap_or(usize::MAX).min(self.held.len()).min(buf.remaining());
            buf.put_slice(&self.held[..n]);
            self.held.drain(..n);
            self.wrote(n);
            return Poll::Ready(Ok(()));
        }
        if matches!(&self.phase, Phase::Sending(s) if !s.over()) {
            // Read only once the plan lets some bytes through.
            if self.allow(cx, &[]).is_pending() {
                return Poll::Pending;
            }
        }
        let before = buf.filled().len();
        let r = Pin::new(inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n == 0 || !self.receiving() {
            return r;
        }
        let Poll::Ready(allowed) = self.allow(cx, &buf.filled()[before..]) else {
            self.held.extend_from_slice(&buf.filled()[before..]);
            buf.set_filled(before);
            return Poll::Pending;
        };
        let k = usize::try_from(allowed).unwrap_or(usize::MAX).min(n);
        self.held.extend_from_slice(&buf.filled()[before + k..]);
        buf.set_filled(before + k);
        self.wrote(k);
        r
    }
}
