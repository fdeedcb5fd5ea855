//! The UDP answer loop. Measured on this project's 2-core machine,
//! `hickory-server`'s own UDP loop (a task and several allocations per
//! query, responses through a channel) answered ~32k queries/s at ~50k
//! queries per server CPU-second, against gdnsd's ~240k; a tokio loop with
//! this module's allocation-free fast path still spent ~12 µs of CPU per
//! query, nearly all in the kernel (one receive, one send and often one
//! sleep and wake-up per packet). So UDP has its own loop, shaped like
//! gdnsd's (numbers in `geodns/README.md`):
//!
//! - a few OS threads, each with its own socket on the same port
//!   (`SO_REUSEPORT`, the kernel spreads clients over them; threads share
//!   the one socket when it was bound without that option); each takes a
//!   batch of datagrams
//!   with one `recvmmsg` (blocking until at least one arrives), answers
//!   them in place and sends the batch with one `sendmmsg`;
//! - answers of equal length to the same client socket leave as one
//!   segmented message (UDP GSO, `UDP_SEGMENT`): the client still gets
//!   one datagram per answer, but the kernel routes, loops back and
//!   delivers the group once, which cut the server's system time per
//!   query by about a third under dnsperf (`--no-udp-gso` turns it off);
//! - the common query (one question for the zone apex, class IN, type A or
//!   AAAA, optionally one OPT record, version 0, with or without ECS) is
//!   parsed and answered right here ([`fast_answer`]), without allocating;
//! - everything else (other names and types, malformed or odd packets) goes
//!   through `hickory-proto`'s parser and the same [`crate::dns::Handler`]
//!   that serves TCP, so the semantics live in one place; the fast path's
//!   answers are checked against the handler's in the tests.

use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg, setsockopt, sockopt,
};
use tokio::net::UdpSocket;

use crate::choice::located;
use crate::dns::{Dns, EDNS_PAYLOAD, Handler};
use crate::metrics::{Tally, Transport, rcode_index};

/// Datagrams per `recvmmsg`/`sendmmsg`.
const BATCH: usize = 32;
/// Largest datagram read and largest answer sent (a longer query arrives
/// truncated and then fails to parse).
const DGRAM: usize = 2048;
/// Largest fast answer: header, a 255-byte name, one record, OPT with ECS.
const OUT_BUF: usize = 512;
/// How often a blocked receiver looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Which loop serves UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Engine {
    /// geodns's own loop: recvmmsg/sendmmsg threads (the default).
    #[default]
    Fast,
    /// `hickory-server`'s own UDP loop (for comparison).
    Hickory,
}

/// A UDP socket bound with `SO_REUSEPORT`, non-blocking, for tokio.
pub fn bind_reuse_port(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s =
        socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// Serves `socket` with `workers` threads until `shutdown` fires.
pub async fn serve(dns: Arc<Dns>, socket: UdpSocket, workers: usize, gso: bool, mut shutdown: runtime::Shutdown) {
    let local = socket.local_addr();
    let socket = match prepare(socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the UDP socket");
            return;
        }
    };
    let quit = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Handle::current();
    let mut threads = Vec::new();
    let mut shared = false;
    for i in 0..workers.max(1) {
        let (dns, quit, rt) = (dns.clone(), quit.clone(), rt.clone());
        // Thread 0 takes the given socket; the others a socket of their own
        // on the same port when SO_REUSEPORT allows, else a shared handle.
        let own = match (&local, i) {
            (Ok(a), 1..) if !shared => match bind_reuse_port(*a).and_then(prepare) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::debug!(error = %e, "no SO_REUSEPORT socket; threads share one");
                    shared = true;
                    None
                }
            },
            _ => None,
        };
        let sock = match own.map_or_else(|| socket.try_clone(), Ok) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot clone the UDP socket");
                break;
            }
        };
        match std::thread::Builder::new()
            .name(format!("geodns-udp-{i}"))
            .spawn(move || worker(dns, &sock, gso, &quit, &rt))
        {
            Ok(t) => threads.push(t),
            Err(e) => tracing::error!(error = %e, "cannot start a UDP thread"),
        }
    }
    shutdown.wait().await;
    quit.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
}

/// A blocking socket whose receives time out, so threads see the stop flag.
fn prepare(socket: UdpSocket) -> std::io::Result<std::net::UdpSocket> {
    let s = socket.into_std()?;
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(STOP_POLL))?;
    Ok(s)
}

fn worker(dns: Arc<Dns>, socket: &std::net::UdpSocket, gso: bool, quit: &AtomicBool, rt: &tokio::runtime::Handle) {
    let fd = socket.as_raw_fd();
    let handler = Handler(dns.clone());
    let dns = &*dns;
    let mut inbufs = Box::new([[0u8; DGRAM]; BATCH]);
    let mut outbufs = Box::new([[0u8; DGRAM]; BATCH]);
    let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx = Sender::new(socket, gso);
    let mut got: [(usize, Option<SockaddrStorage>); BATCH] = [(0, None); BATCH];
    let mut lens = [0usize; BATCH];
    let mut addrs: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    let mut tally = Tally::for_metrics(&dns.metrics);
    while !quit.load(Ordering::Relaxed) {
        // Receive a batch: block for the first datagram, take what else is queued.
        let n = {
            let mut iovs = inbufs.each_mut().map(|b| [IoSliceMut::new(b)]);
            match recvmmsg(fd, &mut rx_headers, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(res) => {
                    let mut n = 0;
                    for m in res {
                        got[n] = (m.bytes, m.address);
                        n += 1;
                    }
                    n
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    continue;
                }
            }
        };
        // Answer each in place.
        let mut k = 0;
        for (i, &(len, addr)) in got[..n].iter().enumerate() {
            let Some((addr, src)) = addr.and_then(|a| to_socket_addr(&a).map(|s| (a, s))) else { continue };
            if src.port() == 0 {
                continue;
            }
            let q = &inbufs[i][..len.min(DGRAM)];
            let out = &mut outbufs[k];
            let answered = match fast_answer(dns, q, src.ip(), out, &mut tally) {
                Some(m) => Some(m),
                None => rt.block_on(slow_answer(dns, &handler, q, src, out)),
            };
            if let Some(m) = answered {
                lens[k] = m;
                addrs[k] = Some(addr);
                k += 1;
            }
        }
        // Counted before they leave: a client that reads /metrics after its
        // answer must find it counted.
        dns.metrics.add_fast(&mut tally);
        tally.segmented += send_batch(fd, &mut tx, &outbufs, &lens[..k], &addrs[..k]) as u64;
        dns.metrics.add_fast(&mut tally);
    }
}

/// Sends a batch of answers with one `sendmmsg`. Answers of the batch's
/// largest length bound for the same client socket travel as one message
/// with `UDP_SEGMENT` (UDP GSO, Linux 4.18+): the receiver still gets one
/// datagram per answer, but the kernel routes the message, passes it
/// through the device and looks up the receiving socket once per client
/// instead of once per answer.
struct Sender {
    plain: MultiHeaders<SockaddrStorage>,
    segmented: MultiHeaders<SockaddrStorage>,
    /// Whether to group (off when asked, or when the kernel refuses).
    gso: bool,
}

impl Sender {
    fn new(socket: &std::net::UdpSocket, gso: bool) -> Self {
        // A kernel without UDP GSO refuses the option; 0 leaves it off per socket.
        let gso = gso && setsockopt(socket, sockopt::UdpGsoSegment, &0).is_ok();
        Sender {
            plain: MultiHeaders::preallocate(BATCH, None),
            segmented: MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(u16))),
            gso,
        }
    }
}

/// How one batch's answers are laid out in messages: answer `j` joins the
/// first earlier message to the same client when both have the batch's
/// largest length `seg` (a segmented message is cut every `seg` bytes, so
/// only full-size answers may share one); the rest go alone. Answers keep
/// their order within a message.
#[derive(Debug)]
struct Plan {
    /// Answer indices, message by message.
    order: [usize; BATCH],
    /// Where each message's answers start in `order`, and how many.
    start: [usize; BATCH],
    count: [usize; BATCH],
    messages: usize,
    /// The segment size: the batch's largest answer.
    seg: usize,
}

impl Plan {
    fn new(lens: &[usize], addrs: &[Option<SockaddrStorage>], gso: bool) -> Plan {
        let seg = lens.iter().copied().max().unwrap_or(0);
        let mut message = [0usize; BATCH];
        let mut first = [0usize; BATCH];
        let mut count = [0usize; BATCH];
        let mut messages = 0;
        for j in 0..lens.len() {
            let mut m = messages;
            if gso && seg <= OUT_BUF && lens[j] == seg {
                m = (0..messages).find(|&h| lens[first[h]] == seg && addrs[first[h]] == addrs[j]).unwrap_or(messages);
            }
            if m == messages {
                first[messages] = j;
                messages += 1;
            }
            message[j] = m;
            count[m] += 1;
        }
        let mut start = [0usize; BATCH];
        for m in 1..messages {
            start[m] = start[m - 1] + count[m - 1];
        }
        let mut at = start;
        let mut order = [0usize; BATCH];
        for (j, &m) in message[..lens.len()].iter().enumerate() {
            order[at[m]] = j;
            at[m] += 1;
        }
        Plan { order, start, count, messages, seg }
    }

    /// The answers (indices) message `m` carries.
    fn answers(&self, m: usize) -> &[usize] {
        &self.order[self.start[m]..self.start[m] + self.count[m]]
    }
}

/// Sends `lens.len()` answers from `outbufs` to `addrs` and returns how
/// many went in a segmented message with others. On a blocking socket a short count means a later
/// message failed; like any UDP loss, the client retries. (The result is
/// not iterated: for sends nix would read addresses it never
/// initialised.) When the first message fails it is dropped and the rest
/// are sent.
fn send_batch(
    fd: std::os::fd::RawFd,
    tx: &mut Sender,
    outbufs: &[[u8; DGRAM]; BATCH],
    lens: &[usize],
    addrs: &[Option<SockaddrStorage>],
) -> usize {
    let plan = Plan::new(lens, addrs, tx.gso);
    if plan.messages == lens.len() {
        send_plain(fd, &mut tx.plain, outbufs, lens, addrs);
        return 0;
    }
    let flat: [IoSlice<'_>; BATCH] = std::array::from_fn(|i| {
        let j = plan.order[i];
        IoSlice::new(if i < lens.len() { &outbufs[j][..lens[j]] } else { &[] })
    });
    let msgs: [&[IoSlice<'_>]; BATCH] =
        std::array::from_fn(|m| if m < plan.messages { &flat[plan.start[m]..][..plan.count[m]] } else { &[] });
    let to: [Option<SockaddrStorage>; BATCH] =
        std::array::from_fn(|m| if m < plan.messages { addrs[plan.answers(m)[0]] } else { None });
    let size = plan.seg as u16;
    let gso = [ControlMessage::UdpGsoSegments(&size)];
    if send_all(fd, &mut tx.segmented, &msgs[..plan.messages], &to[..plan.messages], &gso) {
        return (0..plan.messages).map(|m| plan.count[m]).filter(|&c| c > 1).sum();
    }
    // Refused outright (EINVAL/EIO: no GSO on this route): one datagram per answer from now on.
    tracing::debug!("UDP GSO refused; sending answers one datagram each");
    tx.gso = false;
    send_plain(fd, &mut tx.plain, outbufs, lens, addrs);
    0
}

/// Sends each answer as its own datagram.
fn send_plain(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    outbufs: &[[u8; DGRAM]; BATCH],
    lens: &[usize],
    addrs: &[Option<SockaddrStorage>],
) {
    let iovs: [[IoSlice<'_>; 1]; BATCH] =
        std::array::from_fn(|j| [IoSlice::new(&outbufs[j][..lens.get(j).copied().unwrap_or(0)])]);
    let msgs: [&[IoSlice<'_>]; BATCH] = std::array::from_fn(|j| iovs[j].as_slice());
    send_all(fd, headers, &msgs[..lens.len()], addrs, &[]);
}

/// One `sendmmsg` of `msgs` (retried on EINTR, skipping a failing first
/// message); `false` when a segmented message was refused (EINVAL or
/// EIO: the route cannot segment), so nothing was sent.
fn send_all(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    msgs: &[&[IoSlice<'_>]],
    addrs: &[Option<SockaddrStorage>],
    cmsgs: &[ControlMessage<'_>],
) -> bool {
    let mut from = 0;
    while from < msgs.len() {
        let batch: [&[IoSlice<'_>]; BATCH] = std::array::from_fn(|i| msgs.get(from + i).copied().unwrap_or(&[]));
        match sendmmsg(fd, headers, batch[..msgs.len() - from].iter(), &addrs[from..], cmsgs, MsgFlags::empty()) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => {}
            // A segmented message refused: no UDP GSO on this route.
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EIO) if !cmsgs.is_empty() && msgs[from].len() > 1 => {
                return false;
            }
            Err(e) => {
                tracing::debug!(error = %e, "udp send failed");
                from += 1;
            }
        }
    }
    true
}

fn to_socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::new(IpAddr::V4(v4.ip()), v4.port()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::new(IpAddr::V6(v6.ip()), v6.port()))
}

/// Answers a common query into `out`; `None` hands it to the full handler.
pub fn fast_answer(dns: &Dns, q: &[u8], src: IpAddr, out: &mut [u8], tally: &mut Tally) -> Option<usize> {
    if out.len() < OUT_BUF {
        return None;
    }
    let zone = dns.zone.apex_wire();
    // Header: a query (QR=0), opcode QUERY, not truncated; 1 question, no
    // answers or authorities, at most one additional (the OPT).
    if q.len() < 12 + zone.len() + 4 || q[2] & 0xFA != 0 {
        return None;
    }
    if q[4..10] != [0, 1, 0, 0, 0, 0] || q[10] != 0 || q[11] > 1 {
        return None;
    }
    let qend = 12 + zone.len();
    if !q[12..qend].eq_ignore_ascii_case(zone) {
        return None;
    }
    let (qtype, qclass) = (u16::from_be_bytes([q[qend], q[qend + 1]]), u16::from_be_bytes([q[qend + 2], q[qend + 3]]));
    if qclass != 1 || (qtype != 1 && qtype != 28) {
        return None;
    }
    let mut pos = qend + 4;
    let mut opt: Option<Opt> = None;
    if q[11] == 1 {
        opt = Some(parse_opt(q, &mut pos)?);
    }
    if pos != q.len() {
        return None;
    }
    let ecs = opt.as_ref().and_then(|o| o.ecs);
    let route = dns.chooser.route(located(ecs.map(|e| (e.addr, e.source)), src));
    let slot = route.slot;
    let mut rdata = [0u8; 16];
    let rdlen = if qtype == 1 {
        rdata[..4].copy_from_slice(&route.v4?.octets());
        4
    } else {
        rdata.copy_from_slice(&route.v6?.octets());
        16
    };
    // Header: id, QR|AA|RD(copied), CD(copied), NOERROR; counts.
    out[0] = q[0];
    out[1] = q[1];
    out[2] = 0x84 | (q[2] & 0x01);
    out[3] = q[3] & 0x10;
    out[4..12].copy_from_slice(&[0, 1, 0, 1, 0, 0, 0, u8::from(opt.is_some())]);
    let mut w = 12;
    let mut put = |bytes: &[u8]| {
        out[w..w + bytes.len()].copy_from_slice(bytes);
        w += bytes.len();
    };
    put(&q[12..qend + 4]);
    put(&[0xC0, 0x0C]);
    put(&q[qend..qend + 4]);
    put(&dns.zone.ttl.to_be_bytes());
    put(&(rdlen as u16).to_be_bytes());
    put(&rdata[..rdlen]);
    if let Some(o) = opt {
        put(&[0, 0, 41]);
        put(&EDNS_PAYLOAD.to_be_bytes());
        put(&[0, 0, o.flags_hi & 0x80, 0]);
        match o.ecs {
            Some(e) => {
                let alen = e.addr_len();
                put(&(8 + alen as u16).to_be_bytes());
                put(&[0, 8]);
                put(&(4 + alen as u16).to_be_bytes());
                put(&[0, if e.addr.is_ipv4() { 1 } else { 2 }, e.source, if e.source > 0 { route.scope } else { 0 }]);
                match e.addr {
                    IpAddr::V4(a) => put(&a.octets()[..alen]),
                    IpAddr::V6(a) => put(&a.octets()[..alen]),
                }
            }
            None => put(&[0, 0]),
        }
    }
    tally.answer(slot, route.client, ecs.is_some());
    Some(w)
}

/// The parts of an OPT record the fast path uses.
struct Opt {
    flags_hi: u8,
    ecs: Option<Ecs>,
}

#[derive(Clone, Copy)]
struct Ecs {
    addr: IpAddr,
    source: u8,
}

impl Ecs {
    fn addr_len(&self) -> usize {
        usize::from(self.source).div_ceil(8)
    }
}

/// Parses the OPT record at `pos` (version 0, well-formed options, at most
/// one ECS option that RFC 7871 accepts); `None` for anything else.
fn parse_opt(q: &[u8], pos: &mut usize) -> Option<Opt> {
    let p = *pos;
    let head = q.get(p..p + 11)?;
    // Root owner, type OPT; head[3..5] is the payload size; then extended
    // rcode, version, flags, rdlen.
    if head[0] != 0 || head[1..3] != [0, 41] || head[6] != 0 {
        return None;
    }
    let flags_hi = head[7];
    let rdlen = usize::from(u16::from_be_bytes([head[9], head[10]]));
    let rdata = q.get(p + 11..p + 11 + rdlen)?;
    *pos = p + 11 + rdlen;
    let mut ecs = None;
    let mut i = 0;
    while i < rdata.len() {
        let h = rdata.get(i..i + 4)?;
        let (code, len) = (u16::from_be_bytes([h[0], h[1]]), usize::from(u16::from_be_bytes([h[2], h[3]])));
        let data = rdata.get(i + 4..i + 4 + len)?;
        i += 4 + len;
        if code == 8 {
            if ecs.is_some() {
                return None;
            }
            ecs = Some(parse_ecs(data)?);
        }
    }
    Some(Opt { flags_hi, ecs })
}

fn parse_ecs(d: &[u8]) -> Option<Ecs> {
    if d.len() < 4 {
        return None;
    }
    let (family, source) = (u16::from_be_bytes([d[0], d[1]]), d[2]);
    let bytes = &d[4..];
    if bytes.len() != usize::from(source).div_ceil(8) {
        return None;
    }
    // No address bits may be set beyond the source prefix (RFC 7871 §6).
    if let Some(&last) = bytes.last()
        && source % 8 != 0
        && last & (0xFF >> (source % 8)) != 0
    {
        return None;
    }
    let addr = match family {
        1 if source <= 32 => {
            let mut o = [0u8; 4];
            o[..bytes.len()].copy_from_slice(bytes);
            IpAddr::V4(Ipv4Addr::from(o))
        }
        2 if source <= 128 => {
            let mut o = [0u8; 16];
            o[..bytes.len()].copy_from_slice(bytes);
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(Ecs { addr, source })
}

/// Whether the message's OPT record carries options that do not parse: an
/// option running past the record, or an ECS option RFC 7871 refuses.
/// hickory logs a warning for some of them (throttled by
/// [`runtime::logging`]); they are counted in `/metrics`.
pub fn edns_malformed(q: &[u8]) -> bool {
    let Some(h) = q.get(..12) else { return false };
    let count = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    let mut pos = 12;
    for _ in 0..qd {
        match skip_name(q, pos) {
            Some(p) => pos = p + 4,
            None => return false,
        }
    }
    for i in 0..an + ns + ar {
        let Some(p) = skip_name(q, pos) else { return false };
        let Some(rr) = q.get(p..p + 10) else { return false };
        let rtype = u16::from_be_bytes([rr[0], rr[1]]);
        let rdlen = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
        let Some(rdata) = q.get(p + 10..p + 10 + rdlen) else { return false };
        if i >= an + ns && rtype == 41 && !options_well_formed(rdata) {
            return true;
        }
        pos = p + 10 + rdlen;
    }
    false
}

fn skip_name(q: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let l = *q.get(pos)?;
        match l & 0xC0 {
            0 if l == 0 => return Some(pos + 1),
            0 => pos += 1 + usize::from(l),
            0xC0 => return q.get(pos + 1).map(|_| pos + 2),
            _ => return None,
        }
    }
}

fn options_well_formed(rdata: &[u8]) -> bool {
    let mut i = 0;
    while i < rdata.len() {
        let Some(h) = rdata.get(i..i + 4) else { return false };
        let (code, len) = (u16::from_be_bytes([h[0], h[1]]), usize::from(u16::from_be_bytes([h[2], h[3]])));
        let Some(data) = rdata.get(i + 4..i + 4 + len) else { return false };
        if code == 8 && parse_ecs(data).is_none() {
            return false;
        }
        i += 4 + len;
    }
    true
}

/// Everything the fast path declined: hickory's parser and the handler.
/// Writes the answer (if any) into `out`.
pub(crate) async fn slow_answer(
    dns: &Dns,
    handler: &Handler,
    q: &[u8],
    src: SocketAddr,
    out: &mut [u8],
) -> Option<usize> {
    if edns_malformed(q) {
        dns.metrics.malformed_edns();
    }
    match Request::from_bytes(q.to_vec(), src, Protocol::Udp) {
        Ok(req) => {
            if req.metadata.message_type == hickory_server::proto::op::MessageType::Response {
                return None; // never answer responses (reflection)
            }
            let max = req.edns.as_ref().map_or(512, |e| e.max_payload().max(512)).min(out.len() as u16);
            let capture = Capture { buf: Arc::new(parking_lot::Mutex::new(Vec::new())), max };
            handler.handle_request::<_, TokioTime>(&req, capture.clone()).await;
            let buf = capture.buf.lock();
            if buf.is_empty() || buf.len() > out.len() {
                return None;
            }
            out[..buf.len()].copy_from_slice(&buf);
            Some(buf.len())
        }
        Err(_) => {
            // Unparseable: FORMERR when there is a query header to answer
            // (as hickory-server does), silence otherwise.
            if q.len() < 12 || q[2] & 0x80 != 0 {
                return None;
            }
            out[..12].fill(0);
            out[..2].copy_from_slice(&q[..2]);
            out[2] = 0x80 | (q[2] & 0x79);
            out[3] = (q[3] & 0x10) | 1;
            dns.metrics.response(Transport::Udp, rcode_index(1));
            Some(12)
        }
    }
}

/// Keeps the handler's encoded response (truncated to the client's size).
#[derive(Clone)]
pub(crate) struct Capture {
    pub(crate) buf: Arc<parking_lot::Mutex<Vec<u8>>>,
    pub(crate) max: u16,
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut buf = Vec::with_capacity(512);
        let mut enc = BinEncoder::new(&mut buf);
        enc.set_max_size(self.max);
        let info = response.destructive_emit(&mut enc)?;
        *self.buf.lock() = buf;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_server::proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_server::proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_server::proto::rr::{Name, RecordType};
    use std::str::FromStr;

    fn dns() -> Arc<Dns> {
        let mut w = world::World::demo().unwrap();
        w.edges[1].ipv6 = Some("2001:db8:2::1".parse().unwrap());
        let mut c = crate::Config::from_world(&w);
        c.health = crate::health::Mode::Off;
        crate::build_dns(&c, "127.0.0.1:1053".parse().unwrap()).unwrap()
    }

    fn query(name: &str, qtype: RecordType, ecs: Option<&str>, dnssec_ok: bool, edns: bool) -> Vec<u8> {
        let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
        if edns || ecs.is_some() {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            e.set_dnssec_ok(dnssec_ok);
            if let Some(s) = ecs {
                e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::from_str(s).unwrap()));
            }
            m.edns = Some(e);
        }
        m.to_vec().unwrap()
    }

    async fn via_handler(dns: &Arc<Dns>, q: &[u8], src: SocketAddr) -> Message {
        let req = Request::from_bytes(q.to_vec(), src, Protocol::Udp).unwrap();
        let cap = Capture { buf: Default::default(), max: 4096 };
        Handler(dns.clone()).handle_request::<_, TokioTime>(&req, cap.clone()).await;
        let bytes = cap.buf.lock().clone();
        Message::from_vec(&bytes).unwrap()
    }

    fn same(a: &Message, b: &Message) {
        assert_eq!(a.metadata, b.metadata);
        assert_eq!(a.queries, b.queries);
        assert_eq!(a.answers, b.answers);
        assert_eq!(a.authorities, b.authorities);
        assert_eq!(a.edns, b.edns);
    }

    #[tokio::test]
    async fn fast_answers_equal_the_handlers() {
        let dns = dns();
        // (name, type, ECS, DO bit, EDNS, source address)
        type Case = (&'static str, RecordType, Option<&'static str>, bool, bool, &'static str);
        let cases: Vec<Case> = vec![
            ("cdn.test.", RecordType::A, None, false, false, "127.1.0.5"),
            ("CDN.Test.", RecordType::A, None, false, true, "127.2.0.5"),
            ("cdn.test.", RecordType::A, Some("127.3.0.0/24"), false, true, "127.1.0.5"),
            ("cdn.test.", RecordType::A, Some("203.0.113.0/24"), true, true, "127.0.0.1"),
            ("cdn.test.", RecordType::A, Some("198.51.100.128/25"), false, true, "127.0.0.1"),
            ("cdn.test.", RecordType::A, Some("2001:db8:3::/48"), false, true, "127.0.0.1"),
            ("cdn.test.", RecordType::A, Some("2001:db8:2::/56"), false, true, "127.0.0.1"),
            ("cdn.test.", RecordType::A, Some("0.0.0.0/0"), false, true, "127.2.0.1"),
            ("cdn.test.", RecordType::A, Some("127.9.0.0/16"), false, true, "127.1.0.1"),
            ("cdn.test.", RecordType::AAAA, Some("198.51.100.0/24"), false, true, "127.0.0.1"),
            ("cdn.test.", RecordType::A, None, false, false, "2001:db8:1::9"),
            ("cdn.test.", RecordType::AAAA, None, false, false, "2001:db8:2::9"),
        ];
        let mut out = [0u8; OUT_BUF];
        for (name, qtype, ecs, dnssec_ok, edns, src) in cases {
            let q = query(name, qtype, ecs, dnssec_ok, edns);
            let src: SocketAddr = SocketAddr::new(src.parse().unwrap(), 5353);
            let n = fast_answer(&dns, &q, src.ip(), &mut out, &mut Tally::default())
                .unwrap_or_else(|| panic!("{name} {qtype} {ecs:?}"));
            let fast = Message::from_vec(&out[..n]).unwrap();
            let slow = via_handler(&dns, &q, src).await;
            same(&fast, &slow);
            assert_eq!(fast.answers.len(), 1, "{name} {qtype} {ecs:?} {src}");
        }
    }

    /// IPv6 source addresses cannot be sent from on a loopback-only
    /// machine, so the source-address path is driven directly.
    #[tokio::test]
    async fn ipv6_source_addresses_locate_their_region() {
        let dns = dns();
        let mut out = [0u8; OUT_BUF];
        for (src, edge) in
            [("2001:db8:1::9", "127.1.0.1"), ("2001:db8:2:77::1", "127.2.0.1"), ("2001:db8:3::", "127.3.0.1")]
        {
            let src = SocketAddr::new(src.parse().unwrap(), 5353);
            for edns in [false, true] {
                let q = query("cdn.test.", RecordType::A, None, false, edns);
                let n = fast_answer(&dns, &q, src.ip(), &mut out, &mut Tally::default()).unwrap();
                for m in [Message::from_vec(&out[..n]).unwrap(), via_handler(&dns, &q, src).await] {
                    assert_eq!(m.answers.len(), 1);
                    assert_eq!(m.answers[0].data.ip_addr(), Some(edge.parse().unwrap()), "{src}");
                }
            }
        }
    }

    #[test]
    fn plan_groups_full_size_answers_per_client() {
        let [a, b, c] = ["127.2.0.1:4000", "127.2.0.1:4001", "[::1]:4000"]
            .map(|s| Some(SockaddrStorage::from(s.parse::<SocketAddr>().unwrap())));
        let lens = [64, 64, 50, 64, 64, 64, 64];
        let dests = [a, b, a, a, b, c, a];
        let p = Plan::new(&lens, &dests, true);
        let msgs: Vec<&[usize]> = (0..p.messages).map(|m| p.answers(m)).collect();
        assert_eq!(msgs, [&[0, 3, 6][..], &[1, 4], &[2], &[5]]);
        assert_eq!(p.seg, 64);
        // GSO off, or answers too large for the fast path's segment size: one each.
        for (p, n) in [(Plan::new(&lens, &dests, false), lens.len()), (Plan::new(&[DGRAM, DGRAM], &[a, a], true), 2)] {
            assert_eq!(p.messages, n);
            assert!((0..n).all(|m| p.answers(m) == [m]), "{p:?}");
        }
        assert_eq!(Plan::new(&[], &[], true).messages, 0);
    }

    /// Sends one batch from `tx`'s socket to two clients (client 0 gets
    /// five full-size answers, client 1 two and a short one), checks that
    /// each client receives its answers as separate datagrams, byte for
    /// byte, in order, and nothing else; returns what `send_batch` said
    /// went segmented.
    fn send_and_receive(server: &std::net::UdpSocket, tx: &mut Sender) -> usize {
        let clients: Vec<_> = (0..2).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        let to = [0, 1, 0, 0, 1, 1, 0, 0];
        let lens = [60, 60, 60, 60, 60, 40, 60, 60];
        let mut outbufs = Box::new([[0u8; DGRAM]; BATCH]);
        for (j, buf) in outbufs.iter_mut().enumerate().take(lens.len()) {
            buf[..lens[j]].iter_mut().enumerate().for_each(|(i, b)| *b = (j * 31 + i) as u8);
        }
        let addrs: Vec<_> = to.iter().map(|&c| Some(SockaddrStorage::from(clients[c].local_addr().unwrap()))).collect();
        let sent = send_batch(server.as_raw_fd(), tx, &outbufs, &lens, &addrs);
        for (c, client) in clients.iter().enumerate() {
            // Loopback delivers during the send: everything is queued already;
            // the timeout only bounds a broken send.
            client.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let want: Vec<&[u8]> = (0..lens.len()).filter(|&j| to[j] == c).map(|j| &outbufs[j][..lens[j]]).collect();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            for _ in 0..want.len() {
                let (n, from) = client.recv_from(&mut buf).unwrap();
                assert_eq!(from, server.local_addr().unwrap());
                got.push(buf[..n].to_vec());
            }
            client.set_nonblocking(true).unwrap();
            assert!(client.recv_from(&mut buf).is_err(), "client {c} got an extra datagram");
            assert_eq!(got, want, "client {c}");
        }
        sent
    }

    /// Real sockets: a segmented send reaches each client as separate
    /// datagrams. Skipped (with a message) where the kernel refuses
    /// `UDP_SEGMENT`; the path such kernels take is the next test's.
    #[test]
    fn segmented_sends_arrive_as_separate_datagrams() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut tx = Sender::new(&server, true);
        if !tx.gso {
            eprintln!(
                "skipped segmented_sends_arrive_as_separate_datagrams: this kernel refused UDP_SEGMENT \
                 (UDP GSO needs Linux 4.18+); answers go one datagram each, as \
                 sends_without_gso_are_one_datagram_per_answer tests"
            );
            return;
        }
        let sent = send_and_receive(&server, &mut tx);
        assert_eq!(sent, 7, "all full-size answers shared a message with others to the same client");
        assert!(tx.gso, "still segmenting");
    }

    /// The path of `--no-udp-gso` and of kernels without UDP GSO: every
    /// answer is its own datagram, nothing is counted as segmented.
    #[test]
    fn sends_without_gso_are_one_datagram_per_answer() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut tx = Sender::new(&server, false);
        assert!(!tx.gso);
        assert_eq!(send_and_receive(&server, &mut tx), 0);
    }

    #[tokio::test]
    async fn uncommon_queries_go_to_the_handler() {
        let dns = dns();
        let mut out = [0u8; OUT_BUF];
        let ip: IpAddr = "127.1.0.5".parse().unwrap();
        for q in [
            query("cdn.test.", RecordType::SOA, None, false, false),
            query("cdn.test.", RecordType::ANY, None, false, false),
            query("www.cdn.test.", RecordType::A, None, false, false),
            query("example.org.", RecordType::A, None, false, false),
            // the seoul edge has no IPv6: NODATA (with SOA) comes from the handler
            query("cdn.test.", RecordType::AAAA, None, false, false),
        ] {
            assert_eq!(fast_answer(&dns, &q, ip, &mut out, &mut Tally::default()), None);
        }
        // Malformed ECS: an address bit set beyond the source prefix.
        let mut q = query("cdn.test.", RecordType::A, Some("127.1.0.0/23"), false, true);
        let n = q.len();
        q[n - 1] |= 1;
        assert_eq!(fast_answer(&dns, &q, ip, &mut out, &mut Tally::default()), None);
        let m = via_handler(&dns, &q, SocketAddr::new(ip, 5353)).await;
        assert_eq!(m.metadata.response_code, hickory_server::proto::op::ResponseCode::FormErr);
        // Every prefix of a valid query: never a fast answer, never a panic.
        let q = query("cdn.test.", RecordType::A, Some("203.0.113.0/24"), false, true);
        for cut in 0..q.len() {
            assert_eq!(fast_answer(&dns, &q[..cut], ip, &mut out, &mut Tally::default()), None, "cut {cut}");
        }
    }
}
