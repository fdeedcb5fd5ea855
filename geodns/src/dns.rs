//! The DNS side: a `hickory-server` [`RequestHandler`] authoritative for the
//! CDN zone.
//!
//! | query | answer |
//! | --- | --- |
//! | zone apex `A`/`AAAA`/`ANY` | the chosen edge's address (the origin's when no edge is healthy), TTL from the world |
//! | zone apex `SOA`, `NS` | the zone's SOA; `NS ns.<zone>` with its glue |
//! | `ns.<zone>` `A`/`AAAA` | geodns's own address |
//! | other types at those names | NODATA (SOA in authority) |
//! | other names in the zone | NXDOMAIN (SOA in authority) |
//! | names outside it, classes other than IN | REFUSED |
//! | opcodes other than QUERY | NOTIMP; EDNS version > 0: BADVERS |
//!
//! The client is located by the EDNS Client Subnet option (RFC 7871) when
//! it has one (source prefix > 0), else by the query's source address; the
//! option is echoed with the scope set to the GeoIP network's prefix length.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_server::proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_server::proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::choice::{Chooser, located};
use crate::error::Error;
use crate::metrics::{Metrics, Transport, rcode_index};

/// UDP payload size we advertise in responses (the DNS flag day value).
pub const EDNS_PAYLOAD: u16 = 1232;
/// SOA timers (refresh, retry, expire): irrelevant without secondaries,
/// conventional values.
const SOA_TIMERS: (i32, i32, i32) = (7200, 1800, 259_200);

/// The zone's fixed records and answer addresses, built once.
pub struct Zone {
    /// The CDN name (zone apex), lower case.
    pub apex: LowerName,
    apex_wire: Vec<u8>,
    ns_lower: LowerName,
    soa: Record,
    ns: Record,
    glue: Vec<Record>,
    /// Answer TTL, seconds.
    pub ttl: u32,
}

impl Zone {
    /// The zone of `world`, whose DNS server listens on `dns`.
    pub fn new(world: &world::World, dns: SocketAddr, ttl: u32) -> Result<Zone, Error> {
        let bad =
            |e: hickory_server::proto::ProtoError| Error::World(format!("geodns.zone `{}`: {e}", world.geodns.zone));
        let apex_name = Name::from_ascii(format!("{}.", world.geodns.zone.trim_end_matches('.'))).map_err(bad)?;
        let ns_name = Name::from_ascii("ns").and_then(|n| n.append_domain(&apex_name)).map_err(bad)?;
        let hostmaster = Name::from_ascii("hostmaster").and_then(|n| n.append_domain(&apex_name)).map_err(bad)?;
        let (refresh, retry, expire) = SOA_TIMERS;
        let soa = Record::from_rdata(
            apex_name.clone(),
            ttl,
            RData::SOA(SOA::new(ns_name.clone(), hostmaster, 1, refresh, retry, expire, ttl)),
        );
        let ns = Record::from_rdata(apex_name.clone(), ttl, RData::NS(NS(ns_name.clone())));
        let glue = vec![Record::from_rdata(
            ns_name.clone(),
            ttl,
            match dns.ip() {
                IpAddr::V4(v4) => RData::A(A(v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
            },
        )];
        let mut apex_wire = Vec::new();
        for label in apex_name.iter() {
            apex_wire.push(label.len() as u8);
            apex_wire.extend(label.iter().map(u8::to_ascii_lowercase));
        }
        apex_wire.push(0);
        Ok(Zone { apex: LowerName::new(&apex_name), apex_wire, ns_lower: LowerName::new(&ns_name), soa, ns, glue, ttl })
    }

    /// The apex in wire format, lower case (`\x03cdn\x04test\x00`).
    #[inline]
    pub fn apex_wire(&self) -> &[u8] {
        &self.apex_wire
    }
}

/// Everything the DNS answer path needs.
pub struct Dns {
    /// Locating and choosing.
    pub chooser: Arc<Chooser>,
    /// The zone.
    pub zone: Zone,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// The `hickory-server` request handler.
#[derive(Clone)]
pub struct Handler(pub Arc<Dns>);

/// A response before encoding.
pub struct Answer {
    /// Header fields (rcode, AA, …).
    pub metadata: Metadata,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authorities: Vec<Record>,
    /// Additional section (without OPT).
    pub additionals: Vec<Record>,
    /// OPT to send, when the query had one.
    pub edns: Option<Edns>,
    /// The answer slot (edge index, or the origin's: [`Zone::slot`]), for metrics.
    pub routed: Option<usize>,
    /// The client's region, for metrics ([`Route::client`]).
    pub client_region: Option<usize>,
    /// Whether the query carried an EDNS Client Subnet option.
    pub ecs: bool,
}

impl Dns {
    /// Builds the response to `request` from `src`.
    pub fn answer(&self, request: &Request, src: SocketAddr) -> Answer {
        let mut out = Answer {
            metadata: Metadata::response_from_request(&request.metadata),
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: None,
            routed: None,
            client_region: None,
            ecs: false,
        };
        // EDNS: always answer an OPT with an OPT (RFC 6891 §6.1.1).
        let mut ecs: Option<ClientSubnet> = None;
        if let Some(req_edns) = &request.edns {
            let mut e = Edns::new();
            e.set_max_payload(EDNS_PAYLOAD);
            e.set_dnssec_ok(req_edns.flags().dnssec_ok);
            if req_edns.version() > 0 {
                out.edns = Some(e);
                return out.error(ResponseCode::BADVERS);
            }
            if let Some(EdnsOption::Subnet(cs)) = req_edns.option(EdnsCode::Subnet) {
                out.ecs = true;
                if !ecs_well_formed(cs) {
                    out.edns = Some(e);
                    return out.error(ResponseCode::FormErr);
                }
                ecs = Some(*cs);
            }
            out.edns = Some(e);
        }
        if request.metadata.op_code != OpCode::Query {
            return out.error(ResponseCode::NotImp);
        }
        let query = match request.request_info() {
            Ok(info) => info.query,
            Err(_) => return out.error(ResponseCode::FormErr),
        };
        if query.query_class() != DNSClass::IN || !self.zone.apex.zone_of(query.name()) {
            return out.error(ResponseCode::Refused);
        }
        out.metadata.authoritative = true;
        let qtype = query.query_type();
        let owner = query.original().name().clone();
        let mut scope = 0;
        if *query.name() == self.zone.apex {
            match qtype {
                RecordType::A | RecordType::AAAA | RecordType::ANY => {
                    let route = self.chooser.route(located(ecs.map(|cs| (cs.addr(), cs.source_prefix())), src.ip()));
                    scope = route.scope;
                    let ttl = self.zone.ttl;
                    if qtype != RecordType::AAAA
                        && let Some(a) = route.v4
                    {
                        out.answers.push(Record::from_rdata(owner.clone(), ttl, RData::A(A(a))));
                    }
                    if qtype != RecordType::A
                        && let Some(a) = route.v6
                    {
                        out.answers.push(Record::from_rdata(owner, ttl, RData::AAAA(AAAA(a))));
                    }
                    out.routed = Some(route.slot);
                    out.client_region = route.client;
                }
                RecordType::SOA => out.answers.push(self.zone.soa.clone()),
                RecordType::NS => {
                    out.answers.push(self.zone.ns.clone());
                    out.additionals.extend(self.zone.glue.iter().cloned());
                }
                _ => {}
            }
        } else if *query.name() == self.zone.ns_lower {
            let want = |r: &Record| qtype == RecordType::ANY || r.record_type() == qtype;
            out.answers.extend(self.zone.glue.iter().filter(|r| want(r)).cloned());
        } else {
            out.metadata.response_code = ResponseCode::NXDomain;
        }
        if out.answers.is_empty() {
            out.authorities.push(self.zone.soa.clone());
        }
        if let (Some(cs), Some(e)) = (ecs, out.edns.as_mut()) {
            let mut echo = cs;
            echo.set_scope_prefix(if cs.source_prefix() > 0 { scope } else { 0 });
            e.options_mut().insert(EdnsOption::Subnet(echo));
        }
        out
    }
}

impl Answer {
    fn error(mut self, rcode: ResponseCode) -> Answer {
        self.metadata.response_code = rcode;
        self
    }
}

/// RFC 7871 §6: the address must have no bits set beyond the source prefix.
fn ecs_well_formed(cs: &ClientSubnet) -> bool {
    let p = u32::from(cs.source_prefix());
    match cs.addr() {
        IpAddr::V4(a) => p <= 32 && (p == 32 || u32::from(a) & (u32::MAX >> p) == 0),
        IpAddr::V6(a) => p <= 128 && (p == 128 || u128::from(a) & (u128::MAX >> p) == 0),
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let dns = &self.0;
        let transport = if request.protocol() == Protocol::Udp { Transport::Udp } else { Transport::Tcp };
        let a = dns.answer(request, request.src());
        if a.ecs {
            dns.metrics.ecs();
        }
        let rcode = a.metadata.response_code;
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(e) = &a.edns {
            builder.edns(e);
        }
        let msg = builder.build(a.metadata, a.answers.iter(), a.authorities.iter(), [], a.additionals.iter());
        let info = match response.send_response(msg).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, src = %request.src(), "sending a DNS response failed");
                let mut metadata = a.metadata;
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
            }
        };
        dns.metrics.response(transport, rcode_index(u16::from(rcode)));
        if let Some(slot) = a.routed {
            dns.metrics.answer(slot, a.client_region);
        }
        info
    }
}
