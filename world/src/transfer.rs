//! The transfer-time model: when the bytes of a response arrive over a
//! [`Link`], given the state of the connection that carries it.
//!
//! A fetch has two halves, kept apart because a server's own work (a cache
//! miss going upstream) sits between them:
//!
//! 1. [`request_time`]: connection setup when the connection is cold (TCP:
//!    one round trip; TLS 1.3: one more, RFC 8446 §2), then the request's
//!    upload. The result is the offset, from the client starting the fetch,
//!    at which the server holds the whole request.
//! 2. [`Response::new`]: from the moment the server starts sending, the
//!    [`Round`]s in which the response arrives: slow start from the initial
//!    window, doubling per round trip up to the bandwidth-delay product (or
//!    the receive window), then bound by bandwidth; a connection idle longer
//!    than the RTO first restarts its window (Linux `tcp_cwnd_restart`); a
//!    lost segment costs a fast retransmit (one RTT, window halved) or, at
//!    the tail, an RTO. Jitter and loss are drawn from a seeded [`Rng`], so a
//!    seed always gives the same plan.
//!
//! [`plan`] chains both for a response sent as soon as the request is in
//! (what `docs/network.md`'s tables and the tests predict).
//!
//! Every time here is *simulated* (network) time, as [`crate::Clock::now`]
//! gives it; [`Round::to_wall`] divides by the world's `time_scale` for a
//! sender that sleeps on the wall clock (`runtime::time::sleep` does that
//! itself). A round's times are when its bytes reach the receiver: on
//! loopback the wire adds nothing, so that is also when the sender should
//! write them.
//!
//! Cost: a plan is a few dozen bytes on the stack and no allocation; rounds
//! are computed lazily by an iterator ([`Rounds`]), a handful of float
//! operations each. Peers the model does not cover (no [`Link`]) skip all
//! of it: the sender holds an `Option<Link>` and tests it once.

use std::time::{Duration, SystemTime};

use crate::link::Link;
use crate::rng::Rng;

/// Linux `tcp_syn_retries`: SYN retransmissions before connect gives up.
const SYN_RETRIES: u32 = 6;
/// RFC 5681 §3.2: three duplicate ACKs trigger a fast retransmit.
const DUPTHRESH: u64 = 3;
/// "No slow-start threshold yet" (RFC 5681 §3.1: arbitrarily high).
pub const NO_SSTHRESH: u32 = u32::MAX;

/// A connection as its sender sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    /// No connection yet: the fetch opens one.
    Cold,
    /// An open connection and its congestion state.
    Warm(Warm),
}

/// The congestion state an open connection carries between transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warm {
    /// Congestion window, segments.
    pub cwnd: u32,
    /// Slow-start threshold, segments ([`NO_SSTHRESH`] before any loss).
    pub ssthresh: u32,
    /// When the sender last sent data (simulated time): idle restart
    /// measures from here.
    pub last_send: SystemTime,
}

/// A part of a response that arrives in one go: bytes up to `end` (counted
/// from the response's start) arrive between `first` and `last`, spread
/// evenly (the round's serialization at the link's bandwidth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// When the round's first byte arrives.
    pub first: Duration,
    /// When its last byte arrives.
    pub last: Duration,
    /// Response bytes delivered once this round is in (cumulative).
    pub end: u64,
}

impl Round {
    /// The same round on the wall clock of a world running `time_scale`
    /// simulated seconds per wall second.
    pub fn to_wall(self, time_scale: f64) -> Round {
        Round { first: to_wall(self.first, time_scale), last: to_wall(self.last, time_scale), end: self.end }
    }

    /// This round shifted later by `d`.
    pub fn after(self, d: Duration) -> Round {
        Round { first: self.first + d, last: self.last + d, end: self.end }
    }
}

/// A simulated duration on the wall clock of a world with `time_scale`.
pub fn to_wall(simulated: Duration, time_scale: f64) -> Duration {
    if time_scale.is_finite() && time_scale > 0.0 { simulated.div_f64(time_scale) } else { simulated }
}

/// Losses a transfer met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Losses {
    /// Losses repaired by fast retransmit (one extra RTT each).
    pub fast_retransmits: u32,
    /// Losses repaired after a retransmission timeout (tail losses, and
    /// lost handshake packets).
    pub timeouts: u32,
}

/// The request half of a fetch: when the server holds the whole request,
/// as an offset from the client starting the fetch. A cold connection first
/// pays the TCP handshake (a lost SYN or SYN-ACK waits the initial RTO,
/// doubling per retry) and, on a TLS link, the TLS 1.3 handshake (a lost
/// flight waits an RTO); the request is then uploaded in slow start from
/// the initial window (the client's own window is not tracked: requests
/// are small).
pub fn request_time(link: &Link, conn: &Conn, bytes: u64, rng: &mut Rng) -> (Duration, Losses) {
    let p = Params::of(link);
    let mut losses = Losses::default();
    let mut t = 0.0;
    if let Conn::Cold = conn {
        let mut backoff = p.initial_rto;
        for _ in 0..SYN_RETRIES {
            if !p.lost_any(2, rng) {
                break;
            }
            t += backoff;
            backoff *= 2.0;
            losses.timeouts += 1;
        }
        t += p.round_trip(rng);
        if link.tls {
            if p.lost_any(2, rng) {
                t += p.rto;
                losses.timeouts += 1;
            }
            t += p.round_trip(rng);
        }
    }
    let mut up = Rounds::new(p, link.tcp.init_cwnd, NO_SSTHRESH, bytes, rng.next_u64());
    let last = up.by_ref().last().map_or(0.0, |r| r.last.as_secs_f64());
    losses.fast_retransmits += up.losses.fast_retransmits;
    losses.timeouts += up.losses.timeouts;
    (secs(t + last), losses)
}

/// The response half of a fetch, from the moment the server starts
/// sending (`start`, simulated time), with its totals worked out.
#[derive(Debug, Clone)]
pub struct Response {
    rounds: Rounds,
    /// When the first byte arrives, from the start of sending.
    pub first_byte: Duration,
    /// When the last byte arrives, from the start of sending.
    pub last_byte: Duration,
    /// Number of rounds.
    pub round_count: u32,
    /// Losses met on the way.
    pub losses: Losses,
    /// The connection's state after the transfer.
    pub after: Warm,
}

impl Response {
    /// The plan for sending `bytes` (headers and body, as written) over a
    /// connection in state `conn` (cold: one just opened by
    /// [`request_time`]), starting at `start`. Idle restart applies when
    /// the connection last sent longer than an RTO before `start`.
    pub fn new(link: &Link, conn: &Conn, bytes: u64, start: SystemTime, seed: u64) -> Response {
        let p = Params::of(link);
        let (cwnd, ssthresh) = match conn {
            Conn::Cold => (link.tcp.init_cwnd, NO_SSTHRESH),
            Conn::Warm(w) => restart_after_idle(link, &p, w, start),
        };
        let rounds = Rounds::new(p, cwnd, ssthresh, bytes, seed);
        let mut run = rounds.clone();
        let (mut first, mut last, mut n) = (None, Duration::ZERO, 0);
        for r in run.by_ref() {
            first.get_or_insert(r.first);
            last = r.last;
            n += 1;
        }
        let after = Warm { cwnd: run.cwnd, ssthresh: run.ssthresh, last_send: start + secs(run.last_send) };
        Response {
            rounds,
            first_byte: first.unwrap_or_default(),
            last_byte: last,
            round_count: n,
            losses: run.losses,
            after,
        }
    }

    /// The rounds, times counted from the start of sending.
    pub fn rounds(&self) -> Rounds {
        self.rounds.clone()
    }

    /// Bytes that have arrived `elapsed` after the start of sending (what a
    /// pacer may have written by then).
    pub fn bytes_by(&self, elapsed: Duration) -> u64 {
        let mut done = 0;
        for r in self.rounds() {
            if elapsed >= r.last {
                done = r.end;
                continue;
            }
            if elapsed > r.first {
                let span = (r.last - r.first).as_secs_f64();
                let frac = (elapsed - r.first).as_secs_f64() / span;
                done += ((r.end - done) as f64 * frac) as u64;
            }
            break;
        }
        done
    }
}

/// A whole fetch whose response is sent as soon as the request is in.
#[derive(Debug, Clone)]
pub struct Plan {
    /// When the server holds the whole request (setup and upload), from
    /// the client starting the fetch.
    pub request_at_server: Duration,
    /// Losses during setup and upload.
    pub request_losses: Losses,
    /// The response, its times counted from `request_at_server`.
    pub response: Response,
}

/// Plans a fetch of `response` bytes for a `request` of that many bytes over
/// `link`, on a connection in state `conn`, the client starting at `now`
/// (simulated time). The same `seed` gives the same plan.
pub fn plan(link: &Link, conn: &Conn, request: u64, response: u64, now: SystemTime, seed: u64) -> Plan {
    let mut rng = Rng::new(seed);
    let (request_at_server, request_losses) = request_time(link, conn, request, &mut rng);
    let response = Response::new(link, conn, response, now + request_at_server, rng.next_u64());
    Plan { request_at_server, request_losses, response }
}

impl Plan {
    /// Time to first byte, from the client starting the fetch.
    pub fn ttfb(&self) -> Duration {
        self.request_at_server + self.response.first_byte
    }

    /// Time until the last byte is in, from the client starting the fetch.
    pub fn total(&self) -> Duration {
        self.request_at_server + self.response.last_byte
    }

    /// The connection's state after the fetch.
    pub fn after(&self) -> Conn {
        Conn::Warm(self.response.after)
    }

    /// The rounds, times counted from the client starting the fetch.
    pub fn rounds(&self) -> impl Iterator<Item = Round> + use<> {
        let d = self.request_at_server;
        self.response.rounds().map(move |r| r.after(d))
    }
}

/// Linux `tcp_cwnd_restart` (RFC 2861): after an idle period longer than
/// the RTO, the window halves for every RTO that passed, down to
/// min(initial window, window); ssthresh keeps at least ¾ of the old window
/// (`tcp_current_ssthresh`). RFC 5681 §4.1 would drop straight to the
/// initial window; Linux reaches it after log₂(cwnd/IW) RTOs of idleness.
fn restart_after_idle(link: &Link, p: &Params, w: &Warm, start: SystemTime) -> (u32, u32) {
    let cwnd = w.cwnd.clamp(1, p.cap);
    if !link.tcp.slow_start_after_idle {
        return (cwnd, w.ssthresh);
    }
    // Whole durations, not floats: "idle longer than the RTO" is exact.
    let rto = link.rtt + link.tcp.rto_min.0;
    let idle = start.duration_since(w.last_send).unwrap_or_default();
    if idle <= rto || rto.is_zero() {
        return (cwnd, w.ssthresh);
    }
    let ssthresh = w.ssthresh.max((cwnd >> 1) + (cwnd >> 2));
    let restart = link.tcp.init_cwnd.min(cwnd);
    let (mut c, mut delta) = (cwnd, idle);
    // Linux: `while ((delta -= rto) > 0 && cwnd > restart_cwnd) cwnd >>= 1;`
    while delta > rto && c > restart {
        delta -= rto;
        c >>= 1;
    }
    (c.max(restart), ssthresh)
}

/// A link's numbers in the form the arithmetic wants (seconds, bytes).
#[derive(Debug, Clone, Copy)]
struct Params {
    rtt: f64,
    /// Bytes per second (infinite: no bandwidth limit).
    rate: f64,
    mss: u64,
    /// Largest useful window, segments: the receive window, or the
    /// bandwidth-delay product plus the segment being serialized.
    cap: u32,
    loss: f64,
    jitter: crate::link::Jitter,
    /// RTO of an established connection: Linux's srtt + rttvar with rttvar
    /// at its floor `rto_min` (no variance).
    rto: f64,
    initial_rto: f64,
}

impl Params {
    fn of(link: &Link) -> Params {
        let rtt = link.rtt.as_secs_f64();
        let rate = link.bandwidth.bytes_per_sec();
        let mss = link.tcp.mss.max(1) as u64;
        let rwnd = (link.tcp.rwnd.0 / mss).clamp(1, u32::MAX as u64) as u32;
        let bdp = rate * rtt / mss as f64;
        let cap = if bdp.is_finite() { (bdp.ceil() as u64 + 1).min(rwnd as u64) as u32 } else { rwnd };
        Params {
            rtt,
            rate,
            mss,
            cap: cap.max(link.tcp.init_cwnd),
            loss: link.loss,
            jitter: link.jitter,
            rto: rtt + link.tcp.rto_min.0.as_secs_f64(),
            initial_rto: link.tcp.initial_rto.0.as_secs_f64(),
        }
    }

    /// Serialization time of `bytes`.
    fn ser(&self, bytes: u64) -> f64 {
        if self.rate.is_finite() { bytes as f64 / self.rate } else { 0.0 }
    }

    /// One jitter draw, clamped so no leg's delay is negative.
    fn jitter(&self, rng: &mut Rng) -> f64 {
        if self.jitter.is_none() { 0.0 } else { self.jitter.sample(rng).max(-self.rtt / 2.0) }
    }

    /// A round trip with its jitter.
    fn round_trip(&self, rng: &mut Rng) -> f64 {
        self.rtt + self.jitter(rng)
    }

    /// Whether any of `n` packets is lost.
    fn lost_any(&self, n: i32, rng: &mut Rng) -> bool {
        self.loss > 0.0 && rng.next_f64() < 1.0 - (1.0 - self.loss).powi(n)
    }

    /// The first lost segment among `m`, if any: a truncated geometric
    /// draw (exact for independent losses of probability `loss`).
    fn first_loss(&self, m: u64, rng: &mut Rng) -> Option<u64> {
        if self.loss <= 0.0 {
            return None;
        }
        let any = 1.0 - (1.0 - self.loss).powf(m as f64);
        let u = rng.next_f64();
        if u >= any {
            return None;
        }
        let k = ((1.0 - u).ln() / (1.0 - self.loss).ln()).floor();
        Some((k.max(0.0) as u64).min(m - 1))
    }
}

/// The rounds of one transfer in one direction, computed as they are
/// asked for. Times are counted from the start of sending.
#[derive(Debug, Clone)]
pub struct Rounds {
    p: Params,
    rng: Rng,
    total: u64,
    sent: u64,
    segs_total: u64,
    segs_sent: u64,
    cwnd: u32,
    ssthresh: u32,
    /// When the next round's first segment leaves the sender.
    send: f64,
    /// Arrival of the last byte delivered so far (delivery is in order).
    delivered: f64,
    /// When the sender last put data on the wire.
    last_send: f64,
    /// The second half of a round split by a loss.
    pending: Option<Round>,
    losses: Losses,
    /// Whether an empty transfer's single round has been given.
    empty_done: bool,
}

impl Rounds {
    fn new(p: Params, cwnd: u32, ssthresh: u32, total: u64, seed: u64) -> Rounds {
        Rounds {
            p,
            rng: Rng::new(seed),
            total,
            sent: 0,
            segs_total: total.div_ceil(p.mss),
            segs_sent: 0,
            cwnd: cwnd.clamp(1, p.cap),
            ssthresh,
            send: 0.0,
            delivered: 0.0,
            last_send: 0.0,
            pending: None,
            losses: Losses::default(),
            empty_done: false,
        }
    }

    /// Emits a round, keeping arrivals in order.
    fn emit(&mut self, first: f64, last: f64, end: u64) -> Round {
        let first = first.max(self.delivered);
        let last = last.max(first);
        self.delivered = last;
        Round { first: secs(first), last: secs(last), end }
    }

    /// Window growth after a round of `m` segments without loss: slow start
    /// adds the segments acknowledged (while the window was the limit, as
    /// Linux's `tcp_is_cwnd_limited` decides), congestion avoidance one
    /// segment per full window.
    fn grow(&mut self, m: u32) {
        if self.cwnd < self.ssthresh {
            if self.cwnd < m.saturating_mul(2) {
                self.cwnd = self.cwnd.saturating_add(m).min(self.ssthresh);
            }
        } else if m >= self.cwnd {
            self.cwnd = self.cwnd.saturating_add(1);
        }
        self.cwnd = self.cwnd.min(self.p.cap);
    }
}

impl Iterator for Rounds {
    type Item = Round;

    fn next(&mut self) -> Option<Round> {
        if let Some(r) = self.pending.take() {
            return Some(r);
        }
        let p = self.p;
        if self.sent >= self.total {
            if self.total == 0 && !self.empty_done {
                // Headers only: one packet, one leg.
                self.empty_done = true;
                let ow = p.rtt / 2.0 + p.jitter(&mut self.rng);
                return Some(self.emit(ow, ow, 0));
            }
            return None;
        }
        let m = (self.cwnd as u64).min(self.segs_total - self.segs_sent);
        let b = (m * p.mss).min(self.total - self.sent);
        let s = self.send;
        let j = p.jitter(&mut self.rng);
        let ow = p.rtt / 2.0 + j;
        let seg1 = p.ser(b.min(p.mss));
        let (first, last) = (s + ow + seg1, s + ow + p.ser(b));
        let end = self.sent + b;
        // The next round leaves when the first ACK is back, or when this
        // one is on the wire, whichever is later (Kurose & Ross's stall).
        let next = (s + p.ser(b)).max(s + seg1 + p.rtt + j);
        self.last_send = s + p.ser(b);
        let round = match p.first_loss(m, &mut self.rng) {
            None => {
                self.grow(m as u32);
                self.send = next;
                self.emit(first, last, end)
            }
            Some(k) => {
                let before = k * p.mss; // bytes of the round before the hole
                let hole = s + ow + p.ser(before + p.mss.min(b - before));
                let later = self.segs_total - 1 - (self.segs_sent + k);
                let (fill, resend) = if later >= DUPTHRESH {
                    // Fast retransmit: the duplicate ACKs take a round trip
                    // to come back; the window halves (RFC 5681 eq. 4).
                    self.losses.fast_retransmits += 1;
                    self.ssthresh = ((m / 2) as u32).max(2);
                    self.cwnd = self.ssthresh;
                    self.send = next + p.rtt;
                    (hole + p.rtt, hole - ow + p.rtt)
                } else {
                    // A tail loss: nothing follows to make duplicate ACKs,
                    // so the retransmission timer fires; the window falls
                    // to one segment and grows back by the retransmitted.
                    self.losses.timeouts += 1;
                    self.ssthresh = ((m / 2) as u32).max(2);
                    self.cwnd = ((1 + m - k) as u32).min(self.ssthresh);
                    self.send = next.max(hole - ow + p.rto);
                    (hole + p.rto, hole - ow + p.rto)
                };
                self.last_send = self.last_send.max(resend + p.ser(b - before));
                let head = (before > 0).then(|| self.emit(first, s + ow + p.ser(before), self.sent + before));
                let tail = self.emit(fill, fill.max(last), end);
                match head {
                    Some(h) => {
                        self.pending = Some(tail);
                        h
                    }
                    None => tail,
                }
            }
        };
        self.sent = end;
        self.segs_sent += m;
        Some(round)
    }
}

/// Seconds as a `Duration` (negative and non-finite values give zero).
fn secs(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 { Duration::from_secs_f64(s) } else { Duration::ZERO }
}

#[cfg(test)]
mod tests;
