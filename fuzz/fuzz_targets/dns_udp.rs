//! GeoDNS's UDP path (`geodns/src/udp.rs`): the allocation-free fast path
//! (`fast_answer`: query parsing, OPT/ECS parsing, answer building) and the
//! full path it hands everything else to (hickory's parser, the shared
//! handler, or FORMERR), on the demo world.
//!
//! The first input byte picks the client's source address (a region's
//! loopback range, an unknown address, or IPv6); the rest is the datagram.
//!
//! Properties: never a panic; a response is never answered (no
//! reflection); every answer is a response with the query's ID that
//! hickory parses; and, differentially, whenever the fast path answers,
//! the full handler answers the same query with the same message (header,
//! question, answers, authorities, EDNS), as the unit test
//! `fast_answers_equal_the_handlers` checks for hand-picked queries.
#![no_main]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use geodns::dns::Dns;
use geodns::fuzzing::{demo_dns, slow_answer};
use geodns::metrics::Tally;
use geodns::udp::fast_answer;
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;

const SOURCES: [&str; 8] =
    ["127.1.0.5", "127.2.0.7", "127.3.1.9", "127.0.0.1", "198.51.100.4", "2001:db8:1::9", "2001:db8:2:77::1", "::1"];

struct Fixture {
    rt: tokio::runtime::Runtime,
    dns: Arc<Dns>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dns = rt.block_on(async { demo_dns() }).expect("demo dns");
        Fixture { rt, dns }
    })
}

fn same(fast: &Message, slow: &Message, q: &[u8]) {
    assert_eq!(fast.metadata, slow.metadata, "header differs for {q:02x?}");
    assert_eq!(fast.queries, slow.queries, "question differs for {q:02x?}");
    assert_eq!(fast.answers, slow.answers, "answers differ for {q:02x?}");
    assert_eq!(fast.authorities, slow.authorities, "authorities differ for {q:02x?}");
    assert_eq!(fast.edns, slow.edns, "EDNS differs for {q:02x?}");
}

fn check_response(a: &[u8], q: &[u8]) -> Message {
    assert!(a.len() >= 12, "answer shorter than a header");
    assert_eq!(a[..2], q[..2], "answer ID is not the query's");
    assert!(a[2] & 0x80 != 0, "answer is not a response");
    Message::from_vec(a).unwrap_or_else(|e| panic!("hickory cannot parse our answer {a:02x?}: {e}"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, q)) = data.split_first() else { return };
    let f = fixture();
    let ip: IpAddr = SOURCES[usize::from(pick) % SOURCES.len()].parse().expect("address");
    let src = SocketAddr::new(ip, 5353);
    let mut fast = [0u8; 2048];
    let mut slow = [0u8; 2048];
    let fast_n = fast_answer(&f.dns, q, ip, &mut fast, &mut Tally::default());
    let slow_n = f.rt.block_on(slow_answer(&f.dns, q, src, &mut slow));
    if q.len() >= 3 && q[2] & 0x80 != 0 {
        assert_eq!((fast_n, slow_n), (None, None), "answered a response");
    }
    if let Some(n) = slow_n {
        assert!(n <= slow.len());
        check_response(&slow[..n], q);
    }
    if let Some(n) = fast_n {
        assert!(n <= 512, "fast answer of {n} bytes");
        let fm = check_response(&fast[..n], q);
        let Some(sn) = slow_n else { panic!("fast path answered, the handler did not: {q:02x?}") };
        let sm = Message::from_vec(&slow[..sn]).expect("parsed above");
        same(&fm, &sm, q);
    }
});
