//! The edge's raw hit path (`edge/src/conn.rs`): the request-head parser
//! (httparse and the checks around it) that decides Answered / Partial /
//! Other, against an edge whose memory tier holds a few fresh objects, so
//! the answer path runs too. Pipelined requests are served one after the
//! other, as a connection does.
//!
//! Properties: never a panic; an answer is for a complete GET/HEAD
//! HTTP/1.1 head with exactly one `Host` and without any field that must
//! go to the full path, whose
//! target is exactly a stored key in normal form (the key is what the
//! origin would be sent); the answer is one well-formed response head
//! (status line, header lines, one blank line at the end) and the stored
//! body (none for HEAD).
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use edge::fuzzing::{RawDecision, memory_edge, raw_hit};
use edge::key::CacheKey;
use edge::state::EdgeState;
use libfuzzer_sys::fuzz_target;

const BIG: [u8; 3000] = [b'x'; 3000];
const OBJECTS: &[(&str, &[u8])] = &[
    ("/obj/1", b"hello, world"),
    ("/", b"root"),
    ("/a?b=1&c", b"with a query"),
    ("/big", &BIG),
    ("/~user/x", b"tilde"),
    ("/empty", b""),
];

/// Request fields that must never be answered by the raw path: framing,
/// connection management, client cache directives, conditionals, ranges.
const NEVER_RAW: &[&str] = &[
    "connection",
    "transfer-encoding",
    "content-length",
    "expect",
    "upgrade",
    "te",
    "cache-control",
    "pragma",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "range",
    "if-range",
];

struct Fixture {
    rt: tokio::runtime::Runtime,
    st: Arc<EdgeState>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let st = rt.block_on(memory_edge(OBJECTS)).expect("memory edge");
        Fixture { rt, st }
    })
}

fn check_answer(req: &[u8], head: &[u8], body: &[u8]) {
    // The request: a complete head, GET or HEAD, HTTP/1.1, nothing that
    // must go the full path, a stored target in normal form.
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Request::new(&mut hs);
    assert_eq!(r.parse(req).ok(), Some(httparse::Status::Complete(req.len())), "answered an incomplete head");
    let method = r.method.expect("method");
    assert!(method == "GET" || method == "HEAD", "answered {method}");
    assert_eq!(r.version, Some(1), "answered a request that is not HTTP/1.1");
    for h in r.headers.iter() {
        assert!(!NEVER_RAW.iter().any(|n| h.name.eq_ignore_ascii_case(n)), "answered despite `{}`", h.name);
    }
    let hosts = r.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("host")).count();
    assert_eq!(hosts, 1, "answered a request with {hosts} Host fields (RFC 9112 §3.2: 400)");
    let target = r.path.expect("target");
    let (_, stored) = OBJECTS.iter().find(|(t, _)| *t == target).unwrap_or_else(|| panic!("answered {target:?}"));
    assert_eq!(CacheKey::from_target(target).map(|k| k.as_str() == target), Ok(true), "{target:?} not normal");
    // The answer: one response head ending in one blank line, then the body.
    let mut rh = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut rh);
    assert_eq!(resp.parse(head).ok(), Some(httparse::Status::Complete(head.len())), "answer head is not one head");
    assert_eq!(resp.code, Some(200));
    let names: Vec<String> = resp.headers.iter().map(|h| h.name.to_ascii_lowercase()).collect();
    for n in ["age", "cache-status", "content-length"] {
        assert_eq!(names.iter().filter(|x| *x == n).count(), 1, "`{n}` once in the answer");
    }
    if method == "HEAD" {
        assert!(body.is_empty(), "a HEAD answer with a body");
    } else {
        assert_eq!(body, *stored, "wrong body for {target}");
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let _rt = f.rt.enter();
    let mut buf = data;
    let mut out = BytesMut::new();
    // Serve pipelined requests the way conn::serve does.
    for _ in 0..64 {
        out.clear();
        match raw_hit(&f.st, buf, &mut out) {
            RawDecision::Answered { consumed, body } => {
                assert!(consumed > 0 && consumed <= buf.len(), "consumed {consumed} of {}", buf.len());
                check_answer(&buf[..consumed], &out, &body);
                buf = &buf[consumed..];
            }
            RawDecision::Partial => {
                assert!(out.is_empty(), "an answer head written for a partial request");
                if !buf.is_empty() {
                    let mut hs = [httparse::EMPTY_HEADER; 32];
                    let r = httparse::Request::new(&mut hs).parse(buf);
                    assert!(matches!(r, Ok(httparse::Status::Partial)), "Partial for a parsed head: {r:?}");
                }
                break;
            }
            RawDecision::Other => {
                assert!(out.is_empty(), "an answer head written for a request handed on");
                break;
            }
        }
    }
});
