//! Request smuggling and framing: every case is sent on both paths of the
//! public listener (the raw hit path of `edge/src/conn.rs`, which answers
//! the first request of a connection when it is a fresh memory hit, and
//! hyper, which a connection is handed to for good), each time with a
//! pipelined follow-up request behind it. The follow-up must get its own
//! response or none (the connection closed), never another request's; the
//! origin must never see a smuggled request, nor a GET/HEAD carrying
//! framing; and afterwards every stored URL must hold its own response.
//!
//! The URL the cases ask for (`/w`) is stored before they run, so a raw
//! path that wrongly took a case would answer it 200 from memory.

use std::net::SocketAddr;

use tests::echo::echo_line;
use tests::raw::{RawConn, RawResponse, exchange};
use tests::{EchoOrigin, NaiveOrigin, TestEdge, client, header, start_edge};

/// What a case must get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// 200 with the stored `/w`; the follow-up is answered.
    Hit,
    /// 200 from the origin for this target; the follow-up is answered.
    Ok(&'static str),
    /// 200 from the origin for this target, then the connection closes
    /// (hyper closes after a request with both framings).
    OkThenClose(&'static str),
    /// This status, then the connection closes (no follow-up answer).
    Refused(u16),
    /// This status; the follow-up may be answered or the connection closed.
    Status(u16),
    /// An error status or none, then the connection closes.
    Broken,
}

/// The follow-up pipelined behind every case (it closes the connection
/// after its answer, so a case never waits for a timeout).
const FOLLOW: &str = "GET /follow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
/// What hands a connection to hyper before a case (a `Connection` field
/// keeps a request off the raw path).
const HAND_OVER: &str = "GET /w HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n";

fn cases() -> Vec<(&'static str, String, Want)> {
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
    let s = |x: &str| x.to_string();
    vec![
        (
            "get-with-content-length-body",
            format!("GET /w HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{smuggled}", smuggled.len()),
            Want::Refused(400),
        ),
        (
            "get-cl-then-te",
            format!(
                "GET /w HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            Want::Refused(400),
        ),
        (
            "get-te-then-cl",
            format!(
                "GET /w HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            Want::Refused(400),
        ),
        (
            "post-cl-and-te",
            format!(
                "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            Want::OkThenClose("/p"),
        ),
        (
            "duplicate-cl-differing",
            format!("GET /w HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello{smuggled}"),
            Want::Refused(400),
        ),
        (
            "duplicate-cl-same-on-get",
            format!("GET /w HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello{smuggled}"),
            Want::Refused(400),
        ),
        (
            "cl-plus-sign",
            format!("GET /w HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello{smuggled}"),
            Want::Refused(400),
        ),
        ("get-cl-zero", s("GET /w HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"), Want::Hit),
        (
            "head-with-body",
            format!("HEAD /w HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello{smuggled}"),
            Want::Refused(400),
        ),
        (
            "get-te-zero-chunk",
            format!("GET /w HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"),
            Want::Refused(400),
        ),
        (
            "te-chunked-identity",
            format!("POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}"),
            Want::Refused(400),
        ),
        (
            "te-xchunked",
            format!("POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}"),
            Want::Refused(400),
        ),
        (
            "te-two-lines",
            format!(
                "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            Want::Refused(400),
        ),
        (
            "te-on-http-1-0",
            format!("POST /p HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"),
            Want::Refused(400),
        ),
        (
            "te-underscore-on-a-miss",
            s("GET /m HTTP/1.1\r\nHost: t\r\nTransfer_Encoding: chunked\r\nContent_Length: 9\r\n\r\n"),
            Want::Ok("/m"),
        ),
        ("obs-fold", s("GET /w HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"), Want::Refused(400)),
        ("bare-lf", s("GET /w HTTP/1.1\nHost: t\n\n"), Want::Hit),
        ("space-before-colon-host", s("GET /w HTTP/1.1\r\nHost : t\r\n\r\n"), Want::Refused(400)),
        (
            "space-before-colon-cl",
            format!("GET /w HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello{smuggled}"),
            Want::Refused(400),
        ),
        ("nul-in-target", s("GET /w\0x HTTP/1.1\r\nHost: t\r\n\r\n"), Want::Refused(400)),
        ("cr-in-target", s("GET /w\rx HTTP/1.1\r\nHost: t\r\n\r\n"), Want::Refused(400)),
        ("encoded-nul-in-target", s("GET /w%00 HTTP/1.1\r\nHost: t\r\n\r\n"), Want::Status(400)),
        ("absolute-form", s("GET http://evil.example/w HTTP/1.1\r\nHost: t\r\n\r\n"), Want::Hit),
        ("dot-segments", s("GET /x/../w HTTP/1.1\r\nHost: t\r\n\r\n"), Want::Hit),
        ("encoded-unreserved", s("GET /%77 HTTP/1.1\r\nHost: t\r\n\r\n"), Want::Hit),
        ("no-host", s("GET /w HTTP/1.1\r\n\r\n"), Want::Refused(400)),
        ("two-hosts", s("GET /w HTTP/1.1\r\nHost: t\r\nHost: evil.example\r\n\r\n"), Want::Refused(400)),
        ("host-with-path", s("GET /w HTTP/1.1\r\nHost: evil.example/x\r\n\r\n"), Want::Refused(400)),
        ("other-host", s("GET /w HTTP/1.1\r\nHost: evil.example\r\n\r\n"), Want::Hit),
        ("expect-without-body", s("GET /w HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n"), Want::Hit),
        ("connect", s("CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"), Want::Refused(405)),
        ("asterisk-form", s("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"), Want::Status(400)),
        ("post-with-body", s("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"), Want::Ok("/p")),
        (
            "post-chunked",
            s("POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            Want::Ok("/p"),
        ),
        (
            "huge-chunk-size",
            format!(
                "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\n{smuggled}"
            ),
            Want::Broken,
        ),
    ]
}

/// The echo origin's answer for `target`, as the edge must send it: the
/// host configured for the origin, never a client's.
fn echo_of(o: &SocketAddr, target: &str) -> String {
    let mut h = http::HeaderMap::new();
    h.insert("host", o.to_string().parse().unwrap());
    echo_line(target, &h, &[])
}

async fn edge_with_w(o: &EchoOrigin) -> TestEdge {
    let e = start_edge(o.addr, |_| {}).await;
    for p in ["/w", "/follow"] {
        let r = client().get(e.url(p)).send().await.unwrap();
        assert!(header(&r, "cache-status").contains("stored"), "{p} warmed");
    }
    e
}

/// Sends `case` (behind `prefix`) and the follow-up; returns the case's
/// answers (after the prefix's).
async fn run(addr: SocketAddr, prefix: &str, case: &str) -> Vec<RawResponse> {
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.extend_from_slice(case.as_bytes());
    bytes.extend_from_slice(FOLLOW.as_bytes());
    let mut c = RawConn::open(addr).await;
    let _ = c.send(&bytes).await;
    if !prefix.is_empty() {
        assert!(c.response(false).await.is_some(), "the hand-over request is answered");
    }
    let mut out = Vec::new();
    while out.len() < 3 {
        // The case's answer has no body if it is a HEAD; the follow-up's has.
        match c.response(out.is_empty() && case.starts_with("HEAD")).await {
            Some(r) => out.push(r),
            None => break,
        }
    }
    out
}

fn check(name: &str, path: &str, o: &SocketAddr, want: Want, got: &[RawResponse]) {
    let what = format!("{name} on the {path} path: {:?}", got.iter().map(|r| (r.status, r.text())).collect::<Vec<_>>());
    let follow_ok = |r: &RawResponse| r.status == 200 && r.text() == echo_of(o, "/follow");
    match want {
        Want::Hit | Want::Ok(_) => {
            let target = if let Want::Ok(t) = want { t } else { "/w" };
            assert!(got.len() == 2, "{what}: the case and the follow-up answered");
            assert_eq!(got[0].status, 200, "{what}");
            assert_eq!(got[0].text(), echo_of(o, target), "{what}: the case's own response");
            assert!(follow_ok(&got[1]), "{what}: the follow-up's own response");
        }
        Want::OkThenClose(target) => {
            assert!(got.len() == 1, "{what}: the connection closes after the answer");
            assert_eq!((got[0].status, got[0].text()), (200, echo_of(o, target)), "{what}");
        }
        Want::Refused(status) => {
            assert!(got.len() == 1, "{what}: the connection closes after the refusal");
            assert_eq!(got[0].status, status, "{what}");
            assert_eq!(got[0].header("connection"), "close", "{what}");
        }
        Want::Status(status) => {
            assert!(!got.is_empty() && got[0].status == status, "{what}");
            assert!(got.len() <= 2 && got.get(1).is_none_or(follow_ok), "{what}");
        }
        Want::Broken => {
            assert!(got.len() <= 1 && got.iter().all(|r| r.status >= 400), "{what}");
        }
    }
}

#[tokio::test]
async fn smuggling_cases_get_their_own_answer_on_both_paths_and_nothing_else() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let e = edge_with_w(&o).await;
    for (path, prefix) in [("raw", ""), ("hyper", HAND_OVER)] {
        for (name, case, want) in cases() {
            let got = run(e.handle.public, prefix, &case).await;
            check(name, path, &o.addr, want, &got);
        }
    }
    // The origin never saw a smuggled request, a client's Host, or framing
    // on a request without content.
    for r in o.log() {
        assert_ne!(r.target, "/smuggled", "a smuggled request reached the origin");
        assert_eq!(r.headers.get("host").unwrap(), o.addr.to_string().as_str(), "{r:?}");
        let framing = ["content-length", "transfer-encoding", "content_length", "transfer_encoding"];
        if r.method == http::Method::GET || r.method == http::Method::HEAD {
            assert!(
                framing.iter().all(|f| r.headers.get(*f).is_none()),
                "framing on a {} {}: {r:?}",
                r.method,
                r.target
            );
        } else {
            assert!(
                r.headers.contains_key("content-length") != r.headers.contains_key("transfer-encoding"),
                "one framing on {r:?}"
            );
        }
    }
    // Every stored URL holds its own response.
    for p in ["/w", "/follow", "/m"] {
        let got = exchange(e.handle.public, format!("GET {p} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(), 1).await;
        assert_eq!(got[0].text(), echo_of(&o.addr, p), "{p} holds its own response");
        assert!(got[0].header("cache-status").contains("hit"), "{p}: {}", got[0].head);
    }
    let smuggled = exchange(e.handle.public, b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n", 1).await;
    assert!(smuggled[0].header("cache-status").contains("fwd=uri-miss"), "nothing was stored as /smuggled");
}

/// Defect 1 of issue 12: a GET with content forwarded its `Content-Length`
/// without the content, and an origin that frames by it swallowed the
/// start of the next request on the pooled connection.
#[tokio::test]
async fn a_get_with_content_never_desynchronises_a_pooled_origin_connection() {
    let o = NaiveOrigin::start().await;
    let e = start_edge(o.addr, |_| {}).await;
    let mut refused = Vec::new();
    for p in ["/a", "/b", "/c"] {
        let req = format!("GET {p} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        refused.push(exchange(e.handle.public, req.as_bytes(), 1).await[0].status);
        let plain = format!("GET {p}/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let got = exchange(e.handle.public, plain.as_bytes(), 1).await;
        assert_eq!((got[0].status, got[0].text()), (200, format!("{p}/x")), "the next request got its own answer");
    }
    assert!(!o.log().contains(&"garbage".to_string()), "the origin read a request from the middle: {:?}", o.log());
    assert_eq!(refused, [400, 400, 400], "a GET with content is refused");
}

/// A request without content sends no framing fields at all, whatever the
/// client's said (`Content-Length: 0` included), on fills, revalidations
/// and pass-through GETs.
#[tokio::test]
async fn bodiless_requests_reach_the_origin_without_framing_fields() {
    let o = EchoOrigin::start(&[], "max-age=0, must-revalidate").await;
    let e = start_edge(o.addr, |_| {}).await;
    let c = client();
    for extra in ["", "if-match: \"x\"\r\n", ""] {
        let req = format!("GET /f HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n");
        let got = exchange(e.handle.public, req.as_bytes(), 1).await;
        assert_eq!(got[0].status, 200, "{}", got[0].head);
    }
    c.post(e.url("/f")).body("").send().await.unwrap();
    let log = o.log();
    assert!(log.len() >= 4, "{log:?}");
    for r in log {
        if r.method == http::Method::POST {
            assert_eq!(r.headers.get("content-length").unwrap(), "0", "an empty POST says so");
        } else {
            assert!(!r.headers.contains_key("content-length") && !r.headers.contains_key("transfer-encoding"), "{r:?}");
        }
    }
}

/// Defect 8 of issue 12 (RFC 9112 §3.2), on both paths with the entry
/// stored, so the raw path would have answered.
#[tokio::test]
async fn http_1_1_without_host_or_with_two_gets_400_on_both_paths() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let e = edge_with_w(&o).await;
    for (path, prefix) in [("raw", ""), ("hyper", HAND_OVER)] {
        for req in [
            "GET /w HTTP/1.1\r\n\r\n",
            "GET /w HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET /w HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n",
        ] {
            let got = run(e.handle.public, prefix, req).await;
            assert_eq!(got.len(), 1, "{path} {req:?}: {got:?}");
            assert_eq!(got[0].status, 400, "{path} {req:?}");
            assert!(got[0].text().contains("Host"), "the reason is given: {}", got[0].text());
        }
    }
    // HTTP/1.0 may omit Host.
    let got = exchange(e.handle.public, b"GET /w HTTP/1.0\r\n\r\n", 1).await;
    assert_eq!(got[0].status, 200);
}
