//! The network model applied on the wire: every server's accepted
//! connections (the edge's public and tier listeners, the origin's public
//! one) are paced by [`world::transfer`] so that any client — curl, wrk,
//! the scenario driver, an edge filling from the origin — waits what a real
//! network between the two places would make it wait.
//!
//! Per connection, decided once at accept ([`Pacing::wrap`]): where the
//! peer is (with `--mmdb`, where a GeoIP database places it, by the rule
//! GeoDNS follows: [`geoip::locate`]; else, or when the database does not
//! know it, its address in a region's networks, the lookup GeoDNS's
//! generated database is built from: [`world::World::region_at`]) and so
//! the [`Link`] between it and this server's region. A peer outside every
//! region (127.0.0.1: benchmarks, admin tools) gets no pacer at all: its
//! reads and writes go straight through, one `Option` test each, no timer
//! and no allocation.
//!
//! A paced connection ([`Paced`]) keeps its [`Conn`] (cold until its first
//! response, then the window that response left, restarted after idle as
//! Linux does), and for each request:
//!
//! 1. **the request**: its first bytes are held until the model says the
//!    whole request has reached the server (`request_time`: the handshakes
//!    on a new connection, counted from accept; the upload), so the server
//!    starts its work — a cache lookup, an origin fetch — when it would;
//! 2. **the response**: its first write starts the plan
//!    ([`world::transfer::Response`], sized from the head's
//!    `Content-Length`, [`head`]); bytes go out by rounds: a round's first
//!    segment at its `first` instant, the rest as its serialization
//!    proceeds, all of it by its `last`. Bytes the server has not written
//!    yet (a miss streaming through) go when they come, never before
//!    their round.
//!
//! An edge's connections to your own origin, which paces nothing, are
//! paced the other way round, as the edge reads them ([`Fetching`],
//! [`fetch`]).
//!
//! Waits are on the world's clock: its `time_scale` divides them; on a
//! manual clock (tests) a wait ends when the test has advanced the clock
//! past it (checked every millisecond), and a server's own work takes no
//! simulated time (a response starts when its request was handed over). Wake-ups come from one timer
//! thread ([`timer`]) precise to well under a millisecond; tokio's timer
//! would round each wait up to the next millisecond.
//!
//! Limits (docs/network.md): one request at a time per connection (a
//! pipelined request is not held); a response whose head gives no length is
//! planned as long and cut where it ends; the request upload is counted
//! from the first bytes read, the handshakes from accept.

mod fetch;
mod head;
mod timer;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use fetch::Fetching;
use world::transfer::{Conn, Response, Round, Rounds, Warm, request_time};
use world::{Clock, Link, World};

/// How a listener paces its connections: off, or the links from every
/// region of a world to this server's region. Cheap to clone.
#[derive(Clone, Default)]
pub struct Pacing {
    table: Option<Arc<Table>>,
}

#[derive(Clone)]
struct Table {
    world: World,
    /// The link from region k (world order) to this server's region.
    links: Vec<Link>,
    here: String,
    clock: Clock,
    /// A GeoIP database that locates peers before the world's networks do.
    geoip: Option<Arc<geoip::GeoIp>>,
}

impl std::fmt::Debug for Pacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.table {
            None => f.write_str("Pacing(off)"),
            Some(t) => write!(f, "Pacing(to {})", t.here),
        }
    }
}

impl Pacing {
    /// No pacing: every connection goes at loopback speed.
    pub fn off() -> Pacing {
        Pacing { table: None }
    }

    /// Pacing for a server in region `here` of `world`, on `clock`; off
    /// when the world says `[network] pacing = false` or `here` is not one
    /// of its regions.
    pub fn new(world: &World, here: &str, clock: Clock) -> Pacing {
        if !world.network.pacing {
            return Pacing::off();
        }
        let links: Option<Vec<Link>> = world.regions.iter().map(|r| world.link(&r.name, here)).collect();
        match links {
            Some(links) if world.region(here).is_some() => {
                let here = here.to_string();
                Pacing { table: Some(Arc::new(Table { world: world.clone(), links, here, clock, geoip: None })) }
            }
            _ => Pacing::off(),
        }
    }

    /// Whether any connection may be paced.
    pub fn is_on(&self) -> bool {
        self.table.is_some()
    }

    /// The same pacing, with peers located by `db` first (`--mmdb`): a
    /// peer the database places in a region's city takes that region's
    /// link, one it places between regions the link from that point
    /// ([`World::link_from_point`]); one it has no usable record of is
    /// located by the world's networks as without it (127.0.0.1, in no
    /// database and no region, stays unpaced).
    pub fn with_geoip(self, db: Arc<geoip::GeoIp>) -> Pacing {
        let table = self.table.map(|t| Arc::new(Table { geoip: Some(db), ..(*t).clone() }));
        Pacing { table }
    }

    /// [`Pacing::with_geoip`] with the database in `path` (`--mmdb`), read
    /// even when pacing is off so that a bad file is always refused: a
    /// missing, unreadable or corrupt file is an error that names it.
    pub fn with_mmdb(self, path: &std::path::Path) -> Result<Pacing, geoip::Error> {
        Ok(self.with_geoip(Arc::new(geoip::GeoIp::open(path)?)))
    }

    /// The link a peer at `ip` is paced by (`None`: not paced).
    pub fn link_for(&self, ip: IpAddr) -> Option<Link> {
        let t = self.table.as_ref()?;
        if let Some(db) = &t.geoip {
            match geoip::locate(&t.world, db.place(ip).as_ref()) {
                geoip::Location::Region(k) => return Some(t.links[k]),
                geoip::Location::Point { lat, lon } => return t.world.link_from_point(lat, lon, &t.here),
                geoip::Location::Unknown => {}
            }
        }
        t.world.region_at(ip).map(|k| t.links[k])
    }

    /// `io`, an accepted connection from `peer`, paced by the peer's link
    /// (or not at all).
    pub fn wrap<S>(&self, io: S, peer: SocketAddr) -> Paced<S> {
        let pacer = match (&self.table, self.link_for(peer.ip())) {
            (Some(t), Some(link)) => Some(Box::new(Pacer::new(link, t.clock.clone(), peer))),
            _ => None,
        };
        Paced { inner: io, pacer }
    }
}

/// A connection as the model delivers it: reads of a request held until it
/// has arrived, writes of a response let through by rounds (or, fetching
/// from an upstream that does not pace, [`Fetching`]: requests written at
/// once, the response's bytes read by rounds). Unpaced, it is its inner
/// stream plus one `None`.
pub struct Paced<S> {
    inner: S,
    pacer: Option<Box<Pacer>>,
}

impl<S> Paced<S> {
    /// `inner`, not paced.
    pub fn unpaced(inner: S) -> Paced<S> {
        Paced { inner, pacer: None }
    }

    /// Whether this connection is paced.
    pub fn is_paced(&self) -> bool {
        self.pacer.is_some()
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// Wall time between wake-ups while a long round serializes, at least.
const CHUNK: Duration = Duration::from_millis(2);
/// The step in which a round's bytes (after its first segment) come due:
/// each write becomes packets whose cost (on loopback, the receiver's too)
/// the sender pays per packet, and letting through whatever the clock had
/// made due at each poll wrote a few hundred bytes at a time. A round
/// still ends exactly at its `last`; only how its middle is cut changes
/// (by at most the time one step takes on the link).
const MIN_BURST: u64 = 64 * 1024;
/// How often a wait on a manual clock looks at it again.
const MANUAL_POLL: Duration = Duration::from_millis(1);

/// The connection's time: simulated offsets from its accept.
struct Time {
    clock: Clock,
    manual: bool,
    born: Instant,
    born_sim: SystemTime,
}

impl Time {
    /// Simulated time since accept.
    fn since(&self) -> Duration {
        if self.manual {
            self.clock.now().duration_since(self.born_sim).unwrap_or_default()
        } else {
            self.born.elapsed().mul_f64(self.clock.scale())
        }
    }

    /// When offset `d` falls on the wall clock.
    fn wall(&self, d: Duration) -> Instant {
        self.born + self.clock.to_wall(d)
    }

    /// Whether offset `d` has come (on the wall clock, the same instant a
    /// wake-up for it is set at, so a woken wait always finds it come).
    fn reached(&self, d: Duration) -> bool {
        if self.manual { self.since() >= d } else { Instant::now() >= self.wall(d) }
    }
}

/// Which way a paced connection faces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Accepted by a server: requests read, responses written.
    Serve,
    /// Opened to an upstream: requests written, responses read.
    Fetch,
}

struct Pacer {
    role: Role,
    link: Link,
    time: Time,
    conn: Conn,
    seed: u64,
    requests: u64,
    phase: Phase,
    /// Request bytes read but held until the request has arrived.
    held: Vec<u8>,
    /// The wake-up last set, and for whom.
    armed: Option<(Instant, Waker)>,
    /// When the last request was handed to the server (offset).
    delivered: Duration,
    /// Fetching: when the last request was written (offset), so that the
    /// upstream's own time to answer it (loopback) is added to the model's.
    asked: Duration,
}

enum Phase {
    /// No request yet, or the last response is over.
    Idle,
    /// A request's first bytes are held until offset `until`.
    Holding { until: Duration, head: bool },
    /// The request is with the server; no response byte written yet.
    Handling { head: bool },
    /// A response going out.
    Sending(Box<Sending>),
}

struct Sending {
    /// Offset at which it started.
    start: Duration,
    start_sim: SystemTime,
    /// The connection before it.
    before: Conn,
    seed: u64,
    /// Bytes the head announces (head included), if it does.
    total: Option<u64>,
    sent: u64,
    rounds: Rounds,
    cur: Option<Round>,
    /// Bytes of the rounds before `cur`.
    prev_end: u64,
    /// The connection after it, if it ends at `total`.
    after: Warm,
}

impl Sending {
    fn over(&self) -> bool {
        self.total.is_none_or(|t| self.sent >= t)
    }

    /// The connection once this response is over: the plan's, or (cut
    /// short, or of unknown length) the plan of the bytes actually sent.
    fn conn_after(&self, link: &Link) -> Conn {
        match self.total {
            Some(t) if self.sent == t && t <= head::UNKNOWN => Conn::Warm(self.after),
            _ if self.sent == 0 => self.before,
            _ => Conn::Warm(
                Response::new(link, &self.before, self.sent.min(head::UNKNOWN), self.start_sim, self.seed).after,
            ),
        }
    }
}

impl Pacer {
    fn new(link: Link, clock: Clock, peer: SocketAddr) -> Pacer {
        let key = match peer.ip() {
            IpAddr::V4(a) => u64::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a) as u64 ^ (u128::from(a) >> 64) as u64,
        };
        let manual = clock.is_manual();
        let born_sim = clock.now();
        Pacer {
            role: Role::Serve,
            link,
            time: Time { clock, manual, born: Instant::now(), born_sim },
            conn: Conn::Cold,
            seed: world::rng::mix(key << 16 | u64::from(peer.port())),
            requests: 0,
            phase: Phase::Idle,
            held: Vec::new(),
            armed: None,
            delivered: Duration::ZERO,
            asked: Duration::ZERO,
        }
    }

    /// Sets a wake-up for offset `d` (on a manual clock: a look in a
    /// millisecond), unless the same one is set for the same task.
    fn arm(&mut self, d: Duration, cx: &Context<'_>) {
        let at = if self.time.manual { Instant::now() + MANUAL_POLL } else { self.time.wall(d) };
        if let Some((a, w)) = &self.armed
            && *a == at
            && w.will_wake(cx.waker())
        {
            return;
        }
        timer::wake_at(at, cx.waker());
        self.armed = Some((at, cx.waker().clone()));
    }

    /// Whether bytes read now begin a new request.
    fn starts_request(&self) -> bool {
        match &self.phase {
            Phase::Idle => true,
            Phase::Sending(s) => s.over(),
            Phase::Holding { .. } | Phase::Handling { .. } => false,
        }
    }

    fn next_seed(&mut self) -> u64 {
        self.requests += 1;
        world::rng::mix(self.seed ^ self.requests)
    }

    /// A request of (at least) `bytes` has begun: the offset at which the
    /// model has it at the server (a new connection's handshakes count
    /// from accept, a kept one's request from now).
    fn start_request(&mut self, bytes: u64) -> Duration {
        if let Phase::Sending(s) = &self.phase {
            self.conn = s.conn_after(&self.link);
        }
        let mut rng = world::rng::Rng::new(self.next_seed());
        let (took, _) = request_time(&self.link, &self.conn, bytes, &mut rng);
        let from = if self.conn == Conn::Cold { Duration::ZERO } else { self.time.since() };
        from + took
    }

    /// The first write of a response (`first`: its first bytes).
    fn start_response(&mut self, first: &[u8]) {
        let head = match &self.phase {
            Phase::Holding { head, .. } | Phase::Handling { head } => *head,
            Phase::Idle => false,
            Phase::Sending(s) => {
                self.conn = s.conn_after(&self.link);
                false
            }
        };
        let total = head::response_bytes(first, head);
        // On a manual clock the server's own work takes no simulated time
        // (the clock moves only when a test moves it, often far past the
        // request's arrival at once): its response starts when the request
        // was handed to it. On a running clock, when it is written.
        // Fetching, the request was not held: it reached the upstream
        // (in the model) at `delivered`, and the upstream took the time
        // it took to answer (on a running clock; none on a manual one).
        let start = match (&self.phase, self.time.manual) {
            (Phase::Handling { .. }, true) => self.delivered,
            (Phase::Holding { until, .. }, true) => *until,
            (Phase::Handling { .. }, false) if self.role == Role::Fetch => {
                self.delivered + self.time.since().saturating_sub(self.asked)
            }
            _ => self.time.since(),
        };
        let start_sim = self.time.born_sim + start;
        let seed = self.next_seed();
        // A length beyond the cap (a hostile upstream may announce any) is
        // planned to the cap and the rest let through at once: planning is
        // a loop over rounds.
        let planned = total.unwrap_or(head::UNKNOWN).min(head::UNKNOWN);
        let plan = Response::new(&self.link, &self.conn, planned, start_sim, seed);
        let mut rounds = plan.rounds();
        let cur = rounds.next();
        self.phase = Phase::Sending(Box::new(Sending {
            start,
            start_sim,
            before: self.conn,
            seed,
            total,
            sent: 0,
            rounds,
            cur,
            prev_end: 0,
            after: plan.after,
        }));
    }

    /// How many more response bytes may be written now (`first`: the
    /// bytes offered, whose start is a head when a response begins).
    fn allow(&mut self, cx: &Context<'_>, first: &[u8]) -> Poll<u64> {
        // A response goes on until its announced length, or (no length)
        // until the next request.
        let starting = match &self.phase {
            Phase::Sending(s) => s.total.is_some_and(|t| s.sent >= t),
            _ => true,
        };
        if starting {
            self.start_response(first);
        }
        let Phase::Sending(s) = &mut self.phase else { return Poll::Ready(u64::MAX) };
        let mss = u64::from(self.link.tcp.mss.max(1));
        let (allowed, next) = loop {
            let Some(r) = s.cur else { return Poll::Ready(u64::MAX) };
            if self.time.reached(s.start + r.last) {
                s.prev_end = r.end;
                s.cur = s.rounds.next();
                continue;
            }
            if !self.time.reached(s.start + r.first) {
                break (s.prev_end, s.start + r.first);
            }
            let bytes = r.end - s.prev_end;
            let seg = bytes.min(mss);
            let span = (r.last - r.first).as_secs_f64();
            let into = self.time.since().saturating_sub(s.start + r.first).as_secs_f64();
            let frac = if span > 0.0 { (into / span).clamp(0.0, 1.0) } else { 1.0 };
            // After the first segment, the round's bytes come due in steps
            // of `MIN_BURST` (a write that chased the clock would let a few
            // hundred bytes through per poll), the last step at `last`.
            let rest = bytes - seg;
            let step = MIN_BURST.min(rest.max(1));
            let due = (rest as f64 * frac) as u64;
            let stepped = if frac >= 1.0 { rest } else { due / step * step };
            let allowed = s.prev_end + seg + stepped;
            let next_step =
                r.first + Duration::from_secs_f64(span * ((stepped + step) as f64 / rest.max(1) as f64).min(1.0));
            // The next wake-up: at the next step, `CHUNK` on at least,
            // never after the round's end.
            let chunk = CHUNK.mul_f64(self.time.clock.scale());
            break (allowed, (self.time.since() + chunk).max(s.start + next_step).min(s.start + r.last));
        };
        if allowed > s.sent {
            return Poll::Ready(allowed - s.sent);
        }
        self.arm(next, cx);
        Poll::Pending
    }

    fn wrote(&mut self, n: usize) {
        if let Phase::Sending(s) = &mut self.phase {
            s.sent += n as u64;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Paced<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(p) = this.pacer.as_deref_mut() else { return Pin::new(&mut this.inner).poll_read(cx, buf) };
        if p.role == Role::Fetch {
            return p.read_response(&mut this.inner, cx, buf);
        }
        if let Phase::Holding { until, head } = p.phase {
            if !p.time.reached(until) {
                p.arm(until, cx);
                return Poll::Pending;
            }
            p.phase = Phase::Handling { head };
            p.delivered = until;
        }
        if !p.held.is_empty() {
            let n = p.held.len().min(buf.remaining());
            buf.put_slice(&p.held[..n]);
            p.held.drain(..n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n == 0 || !p.starts_request() {
            return r;
        }
        let got = &buf.filled()[before..];
        let head = head::is_head_request(got);
        let until = p.start_request(n as u64);
        if p.time.reached(until) {
            p.phase = Phase::Handling { head };
            p.delivered = until;
            return r;
        }
        p.held.extend_from_slice(got);
        buf.set_filled(before);
        p.phase = Phase::Holding { until, head };
        p.arm(until, cx);
        Poll::Pending
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Paced<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(p) = this.pacer.as_deref_mut() else { return Pin::new(&mut this.inner).poll_write(cx, buf) };
        if buf.is_empty() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        if p.role == Role::Fetch {
            p.asking(buf);
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let Poll::Ready(n) = p.allow(cx, buf) else { return Poll::Pending };
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
        let r = Pin::new(&mut this.inner).poll_write(cx, &buf[..n]);
        if let Poll::Ready(Ok(w)) = &r {
            p.wrote(*w);
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(p) = this.pacer.as_deref_mut() else {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        };
        let Some(first) = bufs.iter().find(|b| !b.is_empty()) else {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        };
        if p.role == Role::Fetch {
            p.asking(first);
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        }
        let Poll::Ready(n) = p.allow(cx, first) else { return Poll::Pending };
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        // Whole slices that fit, or else part of the first one.
        let (mut fit, mut k) = (0usize, 0usize);
        while k < bufs.len() && fit + bufs[k].len() <= n {
            fit += bufs[k].len();
            k += 1;
        }
        let r = if k == bufs.len() {
            Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
        } else if fit > 0 {
            Pin::new(&mut this.inner).poll_write_vectored(cx, &bufs[..k])
        } else {
            Pin::new(&mut this.inner).poll_write(cx, &bufs[k][..n])
        };
        if let Poll::Ready(Ok(w)) = &r {
            p.wrote(*w);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
