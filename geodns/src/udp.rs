//! The UDP answer loop. Measured on this project's 2-core machine,
//! `hickory-server`'s own UDP loop (a task and several allocations per
//! query, responses through a channel) answered ~32k queries/s at ~50k
//! queries per server CPU-second, against gdnsd's ~240k; so UDP has its own
//! loop (see `geodns/README.md` for the numbers):
//!
//! - a few tasks share the socket; each receives into its own buffer and
//!   answers in place, without spawning or allocating;
//! - the common query (one question for the zone apex, class IN, type A or
//!   AAAA, optionally one OPT record, version 0, with or without ECS) is
//!   parsed and answered right here ([`fast_answer`]);
//! - everything else (other names and types, malformed or odd packets) goes
//!   through `hickory-proto`'s parser and the same [`crate::dns::Handler`]
//!   that serves TCP, so the semantics live in one place; the fast path's
//!   answers are checked against the handler's in the tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::dns::{Dns, EDNS_PAYLOAD, Handler};
use crate::metrics::{Transport, rcode_index};

/// Largest datagram read (anything longer is truncated by the kernel and
/// then fails to parse).
const RECV_BUF: usize = 4096;
/// Largest fast answer: header, a 255-byte name, one record, OPT with ECS.
const OUT_BUF: usize = 512;

/// Which loop serves UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Engine {
    /// This module's loop (the default).
    #[default]
    Fast,
    /// `hickory-server`'s own UDP loop (for comparison).
    Hickory,
}

/// Serves `socket` with `workers` tasks until `stop`.
pub async fn serve(dns: Arc<Dns>, socket: UdpSocket, workers: usize, stop: CancellationToken) {
    let socket = Arc::new(socket);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        tasks.spawn(worker(dns.clone(), socket.clone(), stop.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

async fn worker(dns: Arc<Dns>, socket: Arc<UdpSocket>, stop: CancellationToken) {
    let handler = Handler(dns.clone());
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = [0u8; OUT_BUF];
    loop {
        let (n, src) = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors from earlier sends surface here; keep going.
                    tracing::debug!(error = %e, "udp receive failed");
                    continue;
                }
            },
        };
        if src.port() == 0 {
            continue;
        }
        let query = &buf[..n];
        if let Some(len) = fast_answer(&dns, query, src.ip(), &mut out) {
            if let Err(e) = socket.send_to(&out[..len], src).await {
                tracing::debug!(error = %e, %src, "udp send failed");
            }
            continue;
        }
        slow_answer(&dns, &handler, &socket, query, src).await;
    }
}

/// Answers a common query into `out`; `None` hands it to the full handler.
pub fn fast_answer(dns: &Dns, q: &[u8], src: IpAddr, out: &mut [u8; OUT_BUF]) -> Option<usize> {
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
    let located = match ecs {
        Some(e) if e.source > 0 => e.addr,
        _ => src.to_canonical(),
    };
    let route = dns.chooser.route(located);
    let slot = dns.zone.slot(&route);
    let mut rdata = [0u8; 16];
    let rdlen = if qtype == 1 {
        rdata[..4].copy_from_slice(&dns.zone.v4[slot]?.octets());
        4
    } else {
        rdata.copy_from_slice(&dns.zone.v6[slot]?.octets());
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
    dns.metrics.response(Transport::Udp, 0);
    dns.metrics.answer(route.edge);
    if ecs.is_some() {
        dns.metrics.ecs();
    }
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

/// Everything the fast path declined: hickory's parser and the handler.
async fn slow_answer(dns: &Dns, handler: &Handler, socket: &Arc<UdpSocket>, q: &[u8], src: SocketAddr) {
    match Request::from_bytes(q.to_vec(), src, Protocol::Udp) {
        Ok(req) => {
            if req.metadata.message_type == hickory_server::proto::op::MessageType::Response {
                return; // never answer responses (reflection)
            }
            let max = req.edns.as_ref().map_or(512, |e| e.max_payload().max(512));
            let responder = UdpResponder { socket: socket.clone(), dst: src, max };
            handler.handle_request::<_, TokioTime>(&req, responder).await;
        }
        Err(_) => {
            // Unparseable: FORMERR when there is a query header to answer
            // (as hickory-server does), silence otherwise.
            if q.len() < 12 || q[2] & 0x80 != 0 {
                return;
            }
            let mut h = [0u8; 12];
            h[..2].copy_from_slice(&q[..2]);
            h[2] = 0x80 | (q[2] & 0x79);
            h[3] = (q[3] & 0x10) | 1;
            let _ = socket.send_to(&h, src).await;
            dns.metrics.response(Transport::Udp, rcode_index(1));
        }
    }
}

/// Sends the handler's response on the shared socket.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
    max: u16,
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
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
        self.socket.send_to(&buf, self.dst).await?;
        Ok(info)
    }
}
