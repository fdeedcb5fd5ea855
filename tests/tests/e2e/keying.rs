//! What the cache keys on is exactly what the origin was sent: the
//! canonical target (one form for key and origin), the configured `Host`
//! (never the client's), and the `Vary`-selected fields after hop-by-hop
//! stripping, for storing, looking up and collapsing. A differential test
//! over generated requests, then one test per defect of issues 12 and 23.

use std::time::Duration;

use serde_json::json;
use tests::echo::echo_line;
use tests::raw::{exchange, exchange_as};
use tests::{EchoOrigin, Gate, Reply, ScriptedOrigin, client, eventually, header, start_edge, start_edge_manual_clock};

/// A small seeded generator (xorshift64), so a failure names a request
/// that fails again.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One generated request: spellings of a few URLs, hosts, selecting
/// fields (also listed in `Connection`), proxy-only fields and framing.
fn request(g: &mut Gen) -> (String, bool) {
    let target = g.pick(&[
        "/k/a",
        "/k/%61",
        "/k/a?",
        "/k/./a",
        "/k/x/../a",
        "/k/%2e/a",
        "/k/%2E%2e/k/a",
        "/k/a?q=1",
        "/k/a?q=%31",
        "/k/é",
        "/k/%C3%A9",
        "/k/%c3%a9",
        "/k/a%2Fb",
        "/k/a%2fb",
        "/k/a/b",
        "http://evil.example/k/a",
        "/k/a%00",
        "/k/..%2Fa",
    ]);
    let head = g.chance(15);
    let mut h = String::new();
    match g.next() % 20 {
        0 => {}
        1 => h.push_str("Host: t\r\nHost: evil.example\r\n"),
        2..=11 => h.push_str("Host: t\r\n"),
        n => h.push_str(if n % 2 == 0 { "Host: evil.example\r\n" } else { "Host: evil.example:8443\r\n" }),
    }
    for (name, values) in
        [("X-A", &["1", "2", " 1 ", "1, 2", "1,2", ""][..]), ("X-Lang", &["fr", "en", "FR", "fr, en", "fr,en"][..])]
    {
        for _ in 0..(g.next() % 3) {
            h.push_str(&format!("{name}: {}\r\n", g.pick(values)));
        }
    }
    let connection = g.pick(&["", "", "", "x-a", "x-lang", "X-Lang, x-a", "keep-alive", "close"]);
    if !connection.is_empty() {
        h.push_str(&format!("Connection: {connection}\r\n"));
    }
    if g.chance(30) {
        h.push_str("X-Forwarded-Host: evil.example\r\n");
    }
    if g.chance(10) {
        h.push_str("Forwarded: host=evil.example;proto=https\r\n");
    }
    let body = match g.next() % 30 {
        0..=2 => "Content-Length: 0\r\n\r\n",
        3 => "Content-Length: 3\r\n\r\nabc",
        4 => "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        _ => "\r\n",
    };
    let method = if head { "HEAD" } else { "GET" };
    (format!("{method} {target} HTTP/1.1\r\n{h}{body}"), head)
}

/// Differential: one edge caches, a second never stores (every request
/// goes to the origin, so its answer is what the origin answers that
/// request's forwarded form). For every generated request both must give
/// the same answer; a cached edge that keyed anything other than what it
/// sent would hand some request a response made for another.
#[tokio::test]
async fn whatever_is_served_for_a_request_is_what_the_origin_answers_that_request() {
    let o = EchoOrigin::start(&["x-a", "x-lang"], "max-age=600").await;
    let cached = start_edge(o.addr, |_| {}).await;
    let uncached = start_edge(o.addr, |c| c.min_uses = u32::MAX).await;
    let mut g = Gen(0x5EED_CAFE_F00D_0001);
    let mut hits = 0;
    for i in 0..600 {
        let (req, head) = request(&mut g);
        let a = exchange_as(cached.handle.public, req.as_bytes(), 1, head).await;
        let b = exchange_as(uncached.handle.public, req.as_bytes(), 1, head).await;
        assert!(a.len() == 1 && b.len() == 1, "request {i}: {req:?}: answers {a:?} and {b:?}");
        let (a, b) = (&a[0], &b[0]);
        let at = format!("request {i}: {req:?}\ncached: {}\n{}\nuncached: {}\n{}", a.head, a.text(), b.head, b.text());
        assert_eq!(a.status, b.status, "{at}");
        if a.status == 200 {
            if head {
                assert_eq!(a.header("etag"), b.header("etag"), "{at}");
            } else {
                assert_eq!(a.text(), b.text(), "{at}");
            }
            hits += usize::from(a.header("cache-status").contains("hit"));
        }
    }
    assert!(hits > 100, "the cached edge answered {hits} requests from its cache: the test exercises hits");
    for r in o.log() {
        let key = edge::key::CacheKey::from_target(&r.target).unwrap();
        assert_eq!(key.as_str(), r.target, "the origin is sent canonical targets only");
        assert_eq!(r.headers.get_all("host").iter().collect::<Vec<_>>(), [o.addr.to_string().as_str()], "{r:?}");
        for f in ["content-length", "transfer-encoding", "x-forwarded-host", "forwarded"] {
            assert!(r.headers.get(f).is_none(), "{f} reached the origin: {r:?}");
        }
    }
}

/// Defect 2 of issue 12: the key decoded `%31` but the raw target went to
/// the origin, so the origin's answer to one spelling was stored for
/// another.
#[tokio::test]
async fn the_key_is_the_target_the_origin_is_sent() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let e = start_edge(o.addr, |_| {}).await;
    for (asked, sent) in [
        ("/obj/%31", "/obj/1"),
        ("/obj/1", "/obj/1"),
        ("/a/%2e%2E/obj/2", "/obj/2"),
        ("/obj/é", "/obj/%C3%A9"),
        ("/obj/%c3%a9", "/obj/%C3%A9"),
        ("/k%2fx?q=%7e", "/k%2Fx?q=~"),
    ] {
        let got = exchange(e.handle.public, format!("GET {asked} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(), 1).await;
        assert_eq!(got[0].status, 200, "{asked}");
        assert!(got[0].text().starts_with(&format!("{sent} host=")), "{asked}: the origin was sent {}", got[0].text());
    }
    let targets: Vec<String> = o.log().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/obj/1", "/obj/2", "/obj/%C3%A9", "/k%2Fx?q=~"], "one origin request per key, as keyed");
    for t in ["/a/..%2Fb", "/a/..;/b", "/a%00"] {
        let got = exchange(e.handle.public, format!("GET {t} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(), 1).await;
        assert_eq!(got[0].status, 400, "{t} is refused: {}", got[0].text());
    }
}

/// Defect 3 of issue 12: `X-Lang` named in `Connection` is not sent to the
/// origin, so the response it gives is the default language's; it must be
/// stored as that variant, not as `fr`.
#[tokio::test]
async fn connection_listed_fields_do_not_select_variants() {
    let o = EchoOrigin::start(&["x-lang"], "max-age=600").await;
    let e = start_edge(o.addr, |_| {}).await;
    let c = client();
    let sneaky = c.get(e.url("/page")).header("x-lang", "fr").header("connection", "x-lang").send().await.unwrap();
    assert!(sneaky.text().await.unwrap().ends_with("x-lang=<absent>"), "the origin was not sent X-Lang");
    let fr = c.get(e.url("/page")).header("x-lang", "fr").send().await.unwrap();
    let cs = header(&fr, "cache-status");
    assert!(fr.text().await.unwrap().ends_with("x-lang=fr"), "a French client gets French ({cs})");
    let default = c.get(e.url("/page")).send().await.unwrap();
    assert!(header(&default, "cache-status").contains("hit"), "the variant without X-Lang was stored as such");
    assert!(default.text().await.unwrap().ends_with("x-lang=<absent>"));
}

/// Defect 3, for requests that wait on another's fill
/// (`Ready::vary_matches`): a waiter shares the fill only if its own fill
/// would have sent the origin the same selecting fields.
#[tokio::test]
async fn a_waiter_shares_a_fill_only_if_it_would_have_sent_the_same_variant() {
    let fill = Gate::new();
    let o = EchoOrigin::start_held(&["x-lang"], "max-age=600", &fill).await;
    let e = start_edge(o.addr, |_| {}).await;
    let c = client();
    // The first request's fill is held at the origin until the second
    // request has reached the edge and waits on it.
    let first = tokio::spawn(c.get(e.url("/slow")).header("x-lang", "fr").header("connection", "x-lang").send());
    eventually("the first fill at the origin", || async { o.log().len() == 1 }).await;
    const SECOND: &[u8] = b"GET /slow HTTP/1.1\r\nHost: t\r\nX-Lang: fr\r\nConnection: close\r\n\r\n";
    let read = e.handle.stats().bytes_from_clients + SECOND.len() as u64;
    let second = tokio::spawn(tests::raw::exchange(e.handle.public, SECOND, 1));
    eventually("the edge to read the second request", || async { e.handle.stats().bytes_from_clients >= read }).await;
    fill.open();
    let (first, second) = (first.await.unwrap(), second.await.unwrap().remove(0));
    assert!(first.unwrap().text().await.unwrap().ends_with("x-lang=<absent>"));
    let cs = second.header("cache-status");
    assert!(second.text().ends_with("x-lang=fr"), "the waiter got its own variant ({cs})");
}

/// Issue 23: a client's Host neither fills, nor reads, nor invalidates
/// another host's entry: the origin always gets the configured host.
#[tokio::test]
async fn a_spoofed_host_can_neither_fill_nor_read_nor_invalidate_an_entry() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let e = start_edge(o.addr, |c| c.origin_host = "www.example".into()).await;
    let spoofed = exchange(
        e.handle.public,
        b"GET /page HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Host: evil.example\r\n\r\n",
        1,
    )
    .await;
    assert_eq!(spoofed[0].text(), "/page host=www.example x-forwarded-host=<absent>");
    let normal = client().get(e.url("/page")).send().await.unwrap();
    assert!(header(&normal, "cache-status").contains("hit"));
    assert_eq!(normal.text().await.unwrap(), "/page host=www.example x-forwarded-host=<absent>");
    assert!(o.log().iter().all(|r| r.headers.get("host").unwrap() == "www.example"));

    // Invalidation after an unsafe method: a Location on the configured
    // host counts, one on whatever Host the client sent does not.
    let s = ScriptedOrigin::start().await;
    let e = start_edge(s.addr, |c| c.origin_host = "www.example".into()).await;
    for p in ["/x", "/y"] {
        s.set(p, Reply::ok(p.to_string()).cc("max-age=600"));
        client().get(e.url(p)).send().await.unwrap();
    }
    s.set("/form", Reply::ok("done").header("content-location", "http://other.example/x"));
    let r =
        exchange(e.handle.public, b"POST /form HTTP/1.1\r\nHost: other.example\r\nContent-Length: 0\r\n\r\n", 1).await;
    assert_eq!(r[0].status, 200);
    let x = client().get(e.url("/x")).send().await.unwrap();
    assert!(header(&x, "cache-status").contains("hit"), "a client's Host does not make another site's URL ours");
    s.set("/form", Reply::ok("done").header("content-location", "http://www.example/y"));
    client().post(e.url("/form")).send().await.unwrap();
    let y = client().get(e.url("/y")).send().await.unwrap();
    assert!(header(&y, "cache-status").contains("fwd=uri-miss"), "the configured host's URL is ours");
}

/// Defect 8 of issue 12: keys are stored percent-encoded, so a purge of
/// the raw UTF-8 URL must be encoded the same way.
#[tokio::test]
async fn a_purge_of_a_raw_utf8_url_matches_what_a_request_stored() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let e = start_edge(o.addr, |c| c.admin_token = Some("t0k".into())).await;
    for (requested, purged) in [("/obj/%C3%A9", "/obj/é"), ("/obj/%C3%BC", "/obj/%c3%bc"), ("/obj/ß", "/obj/%C3%9F")]
    {
        let req = format!("GET {requested} HTTP/1.1\r\nHost: t\r\n\r\n");
        let first = exchange(e.handle.public, req.as_bytes(), 1).await;
        assert!(first[0].header("cache-status").contains("stored"), "{requested}");
        let r = client()
            .post(format!("http://{}/purge", e.handle.admin))
            .bearer_auth("t0k")
            .json(&json!({ "url": purged }))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["objects"], 1, "purge of {purged} after a request for {requested}: {v}");
        let again = exchange(e.handle.public, req.as_bytes(), 1).await;
        assert!(again[0].header("cache-status").contains("fwd=uri-miss"), "{requested} was purged");
    }
}

/// Defect 4 of issue 12: a HEAD that validated a stale entry opened its
/// flight under `key\0head` and ended it under `key`, so the flight stayed
/// in the table and later HEADs joined it: `collapsed`, with the old
/// validator, forever.
#[tokio::test]
async fn a_head_validation_ends_its_flight() {
    let o = ScriptedOrigin::start().await;
    let (e, clock) = start_edge_manual_clock(o.addr, |_| {}).await;
    o.set_clock(clock.clone());
    o.set("/h", Reply::ok("v1").cc("max-age=10").header("etag", "\"v1\"").auto_304());
    assert_eq!(client().get(e.url("/h")).send().await.unwrap().status(), 200);
    clock.advance(Duration::from_secs(20));
    let r = client().head(e.url("/h")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("fwd=stale"), "{}", header(&r, "cache-status"));
    assert_eq!(e.handle.stats().inflight, 0, "the HEAD validation's flight ended");
    o.set("/h", Reply::ok("v2").cc("max-age=10").header("etag", "\"v2\"").auto_304());
    clock.advance(Duration::from_secs(20));
    let r = client().head(e.url("/h")).send().await.unwrap();
    let cs = header(&r, "cache-status");
    assert_eq!(header(&r, "etag"), "\"v2\"", "{cs}");
    assert!(!cs.contains("collapsed"), "{cs}");
    assert_eq!(e.handle.stats().inflight, 0);
}

/// The echo line of the smuggling suite's helper and the origin's agree
/// (guards the differential test's premise).
#[test]
fn the_echo_line_names_target_host_and_selected_fields() {
    let mut h = http::HeaderMap::new();
    h.insert("host", "a".parse().unwrap());
    h.append("x-a", " 1 ,  2".parse().unwrap());
    h.append("x-a", "3".parse().unwrap());
    assert_eq!(
        echo_line("/t", &h, &["x-a".into(), "x-b".into()]),
        "/t host=a x-forwarded-host=<absent> x-a=1,2,3 x-b=<absent>"
    );
}
