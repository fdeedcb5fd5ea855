//! HTTP caching semantics, one test per behaviour (RFC 9111, 5861, 9211,
//! 9213, 9110 ranges), as tables of request sequences against a real edge
//! and a scripted origin. Time moves on the edge's manual clock, never by
//! sleeping. docs/conformance.md maps RFC sections to these tests.

use std::time::Duration;

use http::Method;
use tests::{Gate, Reply, ScriptedOrigin, client, eventually, header, http_date, start_edge_manual_clock};
use world::{CacheRule, Clock, Dur};

type MakeReply = Box<dyn Fn(&Clock) -> Reply + Send + Sync>;

/// A fixed `Last-Modified`, so steps can name what the origin must be sent.
const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

/// One request of a case.
struct Step {
    advance: u64,
    method: Method,
    req: Vec<(&'static str, String)>,
    reply: Option<MakeReply>,
    status: u16,
    origin: Option<usize>,
    cs: Vec<&'static str>,
    not_cs: Vec<&'static str>,
    has: Vec<(&'static str, String)>,
    lacks: Vec<&'static str>,
    body: Option<String>,
    sent: Vec<(&'static str, String)>,
    unsent: Vec<&'static str>,
    sent_method: Option<Method>,
}

fn get() -> Step {
    Step {
        advance: 0,
        method: Method::GET,
        req: Vec::new(),
        reply: None,
        status: 200,
        origin: None,
        cs: Vec::new(),
        not_cs: Vec::new(),
        has: Vec::new(),
        lacks: Vec::new(),
        body: None,
        sent: Vec::new(),
        unsent: Vec::new(),
        sent_method: None,
    }
}

fn head() -> Step {
    Step { method: Method::HEAD, ..get() }
}

fn post() -> Step {
    Step { method: Method::POST, ..get() }
}

impl Step {
    /// Advance the edge clock by `secs` before the request.
    fn after(mut self, secs: u64) -> Self {
        self.advance = secs;
        self
    }
    fn req(mut self, n: &'static str, v: &str) -> Self {
        self.req.push((n, v.to_string()));
        self
    }
    /// The origin's reply from this request on.
    fn reply(mut self, r: impl Fn(&Clock) -> Reply + Send + Sync + 'static) -> Self {
        self.reply = Some(Box::new(r));
        self
    }
    fn status(mut self, s: u16) -> Self {
        self.status = s;
        self
    }
    /// Requests the origin has seen for the path after this step.
    fn origin(mut self, n: usize) -> Self {
        self.origin = Some(n);
        self
    }
    fn cs(mut self, s: &'static str) -> Self {
        self.cs.push(s);
        self
    }
    fn not_cs(mut self, s: &'static str) -> Self {
        self.not_cs.push(s);
        self
    }
    fn has(mut self, n: &'static str, v: &str) -> Self {
        self.has.push((n, v.to_string()));
        self
    }
    fn lacks(mut self, n: &'static str) -> Self {
        self.lacks.push(n);
        self
    }
    fn body(mut self, b: &str) -> Self {
        self.body = Some(b.to_string());
        self
    }
    /// The origin's last request for the path carried `n: v`.
    fn sent(mut self, n: &'static str, v: &str) -> Self {
        self.sent.push((n, v.to_string()));
        self
    }
    /// The origin's last request for the path did not carry `n`.
    fn unsent(mut self, n: &'static str) -> Self {
        self.unsent.push(n);
        self
    }
    /// The origin's last request for the path used method `m`.
    fn sent_method(mut self, m: Method) -> Self {
        self.sent_method = Some(m);
        self
    }
    fn hit(self) -> Self {
        self.cs("; hit")
    }
    fn miss(self) -> Self {
        self.not_cs("; hit")
    }
}

/// Runs each case on its own edge (manual clock) and path.
async fn run(cases: Vec<(&'static str, Vec<Step>)>) {
    run_with(cases, |_| {}).await
}

async fn run_with(cases: Vec<(&'static str, Vec<Step>)>, tweak: impl Fn(&mut edge::Config) + Clone) {
    let o = ScriptedOrigin::start().await;
    let c = client();
    for (name, steps) in cases {
        let t = tweak.clone();
        let (e, clock) = start_edge_manual_clock(o.addr, move |cfg| t(cfg)).await;
        o.set_clock(clock.clone());
        let path = format!("/{name}");
        for (i, s) in steps.into_iter().enumerate() {
            let at = format!("case {name}, step {}", i + 1);
            if let Some(r) = &s.reply {
                o.set(&path, r(&clock));
            }
            clock.advance(Duration::from_secs(s.advance));
            let mut rb = c.request(s.method.clone(), e.url(&path));
            for (n, v) in &s.req {
                rb = rb.header(*n, v);
            }
            let r = rb.send().await.unwrap_or_else(|err| panic!("{at}: {err}"));
            let cs = header(&r, "cache-status");
            assert_eq!(r.status().as_u16(), s.status, "{at}: status (cache-status: {cs})");
            for want in &s.cs {
                assert!(cs.contains(want), "{at}: cache-status `{cs}` lacks `{want}`");
            }
            for not in &s.not_cs {
                assert!(!cs.contains(not), "{at}: cache-status `{cs}` has `{not}`");
            }
            for (n, v) in &s.has {
                assert_eq!(&header(&r, n), v, "{at}: header {n} (cache-status: {cs})");
            }
            for n in &s.lacks {
                assert!(r.headers().get(*n).is_none(), "{at}: unexpected header {n}");
            }
            let body = r.text().await.unwrap();
            if let Some(b) = &s.body {
                assert_eq!(&body, b, "{at}: body");
            }
            if let Some(n) = s.origin {
                assert_eq!(o.count(&path), n, "{at}: origin requests (cache-status: {cs})");
            }
            if !s.sent.is_empty() || !s.unsent.is_empty() || s.sent_method.is_some() {
                let last = o.last(&path).unwrap_or_else(|| panic!("{at}: the origin saw no request"));
                for (n, v) in &s.sent {
                    let got = last.headers.get(*n).map(|h| h.to_str().unwrap().to_string());
                    assert_eq!(got.as_ref(), Some(v), "{at}: the origin got {n} (cache-status: {cs})");
                }
                for n in &s.unsent {
                    assert!(last.headers.get(*n).is_none(), "{at}: the origin got {n} (cache-status: {cs})");
                }
                if let Some(m) = &s.sent_method {
                    assert_eq!(&last.method, m, "{at}: method the origin got");
                }
            }
        }
    }
}

fn ok(cc: &'static str) -> impl Fn(&Clock) -> Reply + Send + Sync {
    move |_| Reply::ok("body").cc(cc)
}

#[tokio::test]
async fn freshness_lifetime_follows_rfc_9111() {
    run(vec![
        (
            "s-maxage-over-max-age",
            vec![
                get().reply(ok("max-age=1, s-maxage=100")).origin(1),
                get().after(50).hit().origin(1),
                get().after(60).miss().cs("fwd=stale").origin(2),
            ],
        ),
        (
            "max-age-over-expires",
            vec![
                get().reply(|c| Reply::ok("x").cc("max-age=100").header("expires", &http_date(c, -10))).origin(1),
                get().after(50).hit().origin(1),
            ],
        ),
        (
            "expires-minus-date",
            vec![
                get().reply(|c| Reply::ok("x").header("date", &http_date(c, 0)).header("expires", &http_date(c, 100))),
                get().after(60).hit().origin(1),
                get().after(60).miss().origin(2),
            ],
        ),
        (
            "invalid-expires-is-stale",
            vec![
                get().reply(|_| Reply::ok("x").header("expires", "0").header("etag", "\"e\"")).origin(1),
                get().miss().origin(2),
            ],
        ),
        (
            "age-from-upstream-counts",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").header("age", "90")).origin(1).has("age", "90"),
                get().after(5).hit().has("age", "95").origin(1),
                get().after(10).miss().origin(2),
            ],
        ),
        (
            "garbage-age-is-stale",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").header("age", "abc").header("etag", "\"a\"")),
                get().miss().origin(2),
            ],
        ),
        (
            "huge-age-is-capped-and-stale",
            vec![
                get().reply(|_| {
                    Reply::ok("x").cc("max-age=100").header("age", "99999999999999999999").header("etag", "\"a\"")
                }),
                get().miss().origin(2),
            ],
        ),
        (
            "old-date-counts-as-age",
            vec![
                get().reply(|c| Reply::ok("x").cc("max-age=60").header("date", &http_date(c, -50))),
                get().after(5).hit().origin(1),
                get().after(10).miss().origin(2),
            ],
        ),
        (
            "heuristic-ten-percent-of-last-modified",
            vec![
                get()
                    .reply(|c| {
                        Reply::ok("x").header("date", &http_date(c, 0)).header("last-modified", &http_date(c, -1000))
                    })
                    .cs("ttl=100; stored; detail=heuristic"),
                get().after(90).hit().cs("; ttl=10; detail=memory+heuristic").origin(1),
                get().after(20).miss().cs("fwd=stale").origin(2),
            ],
        ),
        (
            "no-heuristic-for-302",
            vec![
                get()
                    .reply(|c| {
                        Reply::status(302, "x")
                            .header("location", "/elsewhere")
                            .header("last-modified", &http_date(c, -1000))
                    })
                    .status(302),
                get().status(302).miss().origin(2),
            ],
        ),
        (
            "explicit-302-is-stored",
            vec![
                get().reply(|_| Reply::status(302, "x").header("location", "/elsewhere").cc("max-age=60")).status(302),
                get().status(302).hit().origin(1),
            ],
        ),
        (
            "directive-names-ignore-case-and-space",
            vec![get().reply(ok("  PUBLIC ,  Max-Age = 100 ")), get().after(50).hit().origin(1)],
        ),
        ("quoted-max-age", vec![get().reply(ok("max-age=\"100\"")), get().after(50).hit().origin(1)]),
        (
            "conflicting-duplicate-max-age-is-stale",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").cc("max-age=1").header("etag", "\"a\"")),
                get().after(2).miss().origin(2),
            ],
        ),
        (
            "unknown-directive-is-ignored",
            vec![get().reply(ok("foo=\"bar, baz\", max-age=100, x-y")), get().after(50).hit().origin(1)],
        ),
        (
            "no-cache-revalidates-every-time",
            vec![
                get()
                    .reply(|_| Reply::ok("x").cc("no-cache, max-age=100").header("etag", "\"n\"").auto_304())
                    .cs("stored; detail=no-cache"),
                get().miss().cs("fwd=stale").cs("fwd-status=304").cs("detail=no-cache").origin(2),
                get().cs("fwd-status=304").origin(3),
            ],
        ),
        (
            "qualified-no-cache-strips-the-field",
            vec![
                get()
                    .reply(|_| {
                        Reply::ok("x")
                            .cc("no-cache=\"x-secret, x-other\", max-age=100")
                            .header("x-secret", "s")
                            .header("x-kept", "k")
                    })
                    .has("x-secret", "s"),
                get().hit().lacks("x-secret").has("x-kept", "k").origin(1),
            ],
        ),
    ])
    .await;
}

#[tokio::test]
async fn storing_follows_status_authorization_and_cookie_rules() {
    let mut cases = Vec::new();
    for status in [200u16, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501] {
        let name: &'static str = Box::leak(format!("heuristic-status-{status}").into_boxed_str());
        cases.push((
            name,
            vec![
                get()
                    .reply(move |c| {
                        Reply::status(status, "")
                            .header("last-modified", &http_date(c, -1000))
                            .header("date", &http_date(c, 0))
                    })
                    .status(status),
                get().status(status).hit().origin(1),
            ],
        ));
    }
    cases.extend(vec![
        (
            "500-without-freshness-not-stored",
            vec![get().reply(|_| Reply::status(500, "x")).status(500), get().status(500).origin(2)],
        ),
        (
            "500-with-max-age-stored",
            vec![
                get().reply(|_| Reply::status(500, "x").cc("max-age=60")).status(500),
                get().status(500).hit().origin(1),
            ],
        ),
        (
            "authorization-not-shared",
            vec![
                get().req("authorization", "Bearer a").reply(ok("max-age=100")),
                get().req("authorization", "Bearer b").miss().origin(2),
            ],
        ),
        (
            "authorization-public-shared",
            vec![get().req("authorization", "Bearer a").reply(ok("public, max-age=100")), get().hit().origin(1)],
        ),
        (
            "authorization-s-maxage-shared",
            vec![get().req("authorization", "Bearer a").reply(ok("s-maxage=100")), get().hit().origin(1)],
        ),
        (
            "authorization-must-revalidate-shared",
            vec![
                get().req("authorization", "Bearer a").reply(ok("max-age=100, must-revalidate")),
                get().hit().origin(1),
            ],
        ),
        (
            "set-cookie-not-shared",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").header("set-cookie", "s=1")).has("set-cookie", "s=1"),
                get().miss().origin(2),
            ],
        ),
        (
            "public-set-cookie-stored-without-the-cookie",
            vec![
                get()
                    .reply(|_| Reply::ok("x").cc("public, max-age=100").header("set-cookie", "s=1"))
                    .has("set-cookie", "s=1"),
                get().hit().lacks("set-cookie").origin(1),
            ],
        ),
        (
            "hop-by-hop-fields-not-stored",
            vec![
                get()
                    .reply(|_| {
                        Reply::ok("x")
                            .cc("max-age=100")
                            .header("connection", "x-hop")
                            .header("x-hop", "1")
                            .header("keep-alive", "timeout=5")
                            .header("x-end", "1")
                    })
                    .lacks("x-hop")
                    .lacks("keep-alive"),
                get().hit().lacks("x-hop").has("x-end", "1"),
            ],
        ),
        ("private-not-stored", vec![get().reply(ok("private, max-age=100")), get().miss().origin(2)]),
        ("no-store-not-stored", vec![get().reply(ok("no-store, max-age=100")), get().miss().origin(2)]),
    ]);
    run(cases).await;
}

#[tokio::test]
async fn serving_honours_age_date_and_request_directives() {
    run(vec![
        ("age-and-date-on-hits", vec![get().reply(ok("max-age=100")), get().after(7).hit().has("age", "7")]),
        (
            "request-max-age",
            vec![
                get().reply(ok("max-age=100")),
                get().after(10).req("cache-control", "max-age=5").miss().cs("fwd=request").origin(2),
                get().after(1).req("cache-control", "max-age=5").hit().origin(2),
            ],
        ),
        (
            "request-min-fresh",
            vec![
                get().reply(ok("max-age=100")),
                get().after(50).req("cache-control", "min-fresh=60").cs("fwd=request").origin(2),
            ],
        ),
        (
            "request-max-stale",
            vec![
                get().reply(ok("max-age=10")),
                get().after(20).req("cache-control", "max-stale=30").hit().cs("detail=max-stale").origin(1),
                get().req("cache-control", "max-stale=5").miss().origin(2),
            ],
        ),
        (
            "max-stale-not-with-must-revalidate",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=10, must-revalidate")),
                get().after(20).req("cache-control", "max-stale").miss().origin(2),
            ],
        ),
        (
            "request-no-cache",
            vec![get().reply(ok("max-age=100")), get().req("cache-control", "no-cache").cs("fwd=request").origin(2)],
        ),
        (
            "pragma-no-cache-without-cache-control",
            vec![
                get().reply(ok("max-age=100")),
                get().req("pragma", "no-cache").cs("fwd=request").origin(2),
                get().req("pragma", "no-cache").req("cache-control", "max-age=1000").hit().origin(2),
            ],
        ),
        (
            "request-no-store-not-stored",
            vec![
                get().req("cache-control", "no-store").reply(ok("max-age=100")).not_cs("stored"),
                get().miss().origin(2),
            ],
        ),
        ("only-if-cached-absent-is-504", vec![get().req("cache-control", "only-if-cached").status(504).origin(0)]),
        (
            "only-if-cached-present-hits",
            vec![get().reply(ok("max-age=100")), get().req("cache-control", "only-if-cached").hit().origin(1)],
        ),
        // RFC 8246: a fresh immutable response is not revalidated on a
        // reload (browsers send `max-age=0`); a forced reload (`no-cache`)
        // and staleness still go to the origin.
        (
            "immutable-fresh-served-on-reload",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100, immutable").header("etag", "\"i\"").auto_304()),
                get().after(10).req("cache-control", "max-age=0").hit().has("age", "10").origin(1),
                get().req("cache-control", "max-age=5, min-fresh=1").hit().origin(1),
            ],
        ),
        (
            "immutable-forced-reload-and-staleness-revalidate",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100, immutable").header("etag", "\"i\"").auto_304()),
                get().after(10).req("cache-control", "no-cache").cs("fwd=request").origin(2),
                get().req("pragma", "no-cache").cs("fwd=request").origin(3),
                get().after(200).req("cache-control", "max-age=0").cs("fwd=stale").origin(4),
                get().after(200).cs("fwd=stale").sent("if-none-match", "\"i\"").origin(5),
            ],
        ),
        (
            "if-none-match-304-from-cache",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").header("etag", "\"v1\"")),
                get().req("if-none-match", "W/\"v1\"").status(304).hit().has("etag", "\"v1\"").origin(1),
                get().req("if-none-match", "\"v2\"").status(200).hit().origin(1),
            ],
        ),
        (
            "if-modified-since-304-from-cache",
            vec![
                get().reply(|c| Reply::ok("x").cc("max-age=100").header("last-modified", &http_date(c, -100))),
                get()
                    .req("if-modified-since", &world::clock::httpdate_fmt(std::time::SystemTime::now()))
                    .status(304)
                    .hit()
                    .origin(1),
            ],
        ),
    ])
    .await;
}

#[tokio::test]
async fn date_is_imf_fixdate_on_every_response() {
    let o = ScriptedOrigin::start().await;
    o.set("/d", Reply::ok("x").cc("max-age=100"));
    let (e, _) = start_edge_manual_clock(o.addr, |_| {}).await;
    let c = client();
    for path in ["/d", "/d", "/missing"] {
        let r = c.get(e.url(path)).send().await.unwrap();
        let d = header(&r, "date");
        let parsed = httpdate::parse_http_date(&d).unwrap_or_else(|_| panic!("{path}: bad date {d}"));
        assert_eq!(world::clock::httpdate_fmt(parsed), d, "{path}: not IMF-fixdate");
    }
}

#[tokio::test]
async fn revalidation_updates_on_304_and_replaces_on_200() {
    run(vec![
        (
            "304-refreshes-headers-and-freshness",
            vec![
                get().reply(|_| {
                    Reply::ok("v1 body").cc("max-age=10").header("etag", "\"v1\"").header("x-gen", "1").auto_304()
                }),
                get()
                    .after(20)
                    .reply(|_| {
                        Reply::ok("v1 body").cc("max-age=100").header("etag", "\"v1\"").header("x-gen", "2").auto_304()
                    })
                    .cs("fwd=stale")
                    .cs("fwd-status=304")
                    .has("x-gen", "2")
                    .body("v1 body")
                    .origin(2),
                get().after(50).hit().has("x-gen", "2").origin(2),
            ],
        ),
        (
            "validators-sent-on-revalidation",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=10").header("etag", "\"e1\"").header("last-modified", LM)),
                get()
                    .after(20)
                    .cs("fwd=stale")
                    .cs("fwd-status=200")
                    .sent_method(Method::GET)
                    .sent("if-none-match", "\"e1\"")
                    .sent("if-modified-since", LM)
                    .origin(2),
            ],
        ),
        (
            "head-validators-sent-on-revalidation",
            vec![
                get()
                    .reply(|_| Reply::ok("x").cc("max-age=10").header("etag", "\"e1\"").header("last-modified", LM))
                    .unsent("if-none-match")
                    .unsent("if-modified-since"),
                head()
                    .after(20)
                    .cs("fwd=stale")
                    .sent_method(Method::HEAD)
                    .sent("if-none-match", "\"e1\"")
                    .sent("if-modified-since", LM)
                    .origin(2),
            ],
        ),
        (
            "etag-alone-sends-if-none-match-alone",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=10").header("etag", "W/\"w1\"").auto_304()),
                get().after(20).cs("fwd-status=304").sent("if-none-match", "W/\"w1\"").unsent("if-modified-since"),
                head().after(20).cs("fwd-status=304").sent("if-none-match", "W/\"w1\"").unsent("if-modified-since"),
            ],
        ),
        (
            "last-modified-alone-sends-if-modified-since-alone",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=10").header("last-modified", LM)),
                get().after(20).cs("fwd=stale").sent("if-modified-since", LM).unsent("if-none-match"),
                head().after(20).cs("fwd=stale").sent("if-modified-since", LM).unsent("if-none-match"),
            ],
        ),
        (
            "no-validators-no-conditional",
            vec![
                get().reply(ok("max-age=10")),
                get().after(20).miss().unsent("if-none-match").unsent("if-modified-since").origin(2),
            ],
        ),
        (
            "200-replaces",
            vec![
                get().reply(|_| Reply::ok("old").cc("max-age=10").header("etag", "\"a\"")),
                get()
                    .after(20)
                    .reply(|_| Reply::ok("new").cc("max-age=100").header("etag", "\"b\""))
                    .body("new")
                    .cs("fwd=stale")
                    .origin(2),
                get().hit().body("new").origin(2),
            ],
        ),
        (
            "head-200-same-validator-updates",
            vec![
                get().reply(|_| Reply::ok("body").cc("max-age=10").header("etag", "\"h\"").header("x-gen", "1")),
                head()
                    .after(20)
                    .reply(|_| Reply::ok("body").cc("max-age=100").header("etag", "\"h\"").header("x-gen", "2"))
                    .cs("fwd=stale")
                    .has("x-gen", "2")
                    .origin(2),
                get().hit().has("x-gen", "2").body("body").origin(2),
            ],
        ),
        (
            "head-200-new-validator-invalidates",
            vec![
                get().reply(|_| Reply::ok("body").cc("max-age=10").header("etag", "\"h1\"")),
                head()
                    .after(20)
                    .reply(|_| Reply::ok("other").cc("max-age=100").header("etag", "\"h2\""))
                    .has("etag", "\"h2\"")
                    .origin(2),
                get().cs("fwd=uri-miss").body("other").origin(3),
            ],
        ),
    ])
    .await;
}

#[tokio::test]
async fn stale_while_revalidate_serves_stale_with_exactly_one_background_refresh() {
    let o = ScriptedOrigin::start().await;
    o.set("/swr", Reply::ok("v1").cc("max-age=10, stale-while-revalidate=100").header("x-gen", "1"));
    let (e, clock) = start_edge_manual_clock(o.addr, |_| {}).await;
    o.set_clock(clock.clone());
    let c = client();
    c.get(e.url("/swr")).send().await.unwrap();
    clock.advance(Duration::from_secs(20));
    // The refresh is held at the origin until all 20 clients have their answer.
    let refresh = Gate::new();
    o.set("/swr", Reply::ok("v2").cc("max-age=10, stale-while-revalidate=100").header("x-gen", "2").hold(&refresh));
    let all = futures_util::future::join_all((0..20).map(|_| {
        let (c, url) = (c.clone(), e.url("/swr"));
        async move {
            let r = c.get(url).send().await.unwrap();
            (header(&r, "cache-status"), r.text().await.unwrap())
        }
    }))
    .await;
    for (cs, body) in &all {
        assert!(cs.contains("; hit") && cs.contains("detail=stale-while-revalidate"), "{cs}");
        assert_eq!(body, "v1", "stale content served at once");
    }
    // exactly one background refresh, then fresh content
    o.wait_for("/swr", 2).await; // the one refresh the 20 stale hits started
    refresh.open();
    eventually("the background refresh to land", || async {
        let r = c.get(e.url("/swr")).send().await.unwrap();
        let fresh = header(&r, "x-gen") == "2";
        assert!(!fresh || header(&r, "cache-status").contains("; hit"));
        fresh
    })
    .await;
    assert_eq!(o.count("/swr"), 2, "one fill, one background refresh");
    // beyond the window: a normal revalidation
    clock.advance(Duration::from_secs(500));
    let r = c.get(e.url("/swr")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("fwd=stale"));
}

#[tokio::test]
async fn stale_if_error_covers_5xx_refused_and_timeouts_within_its_window() {
    let mut o = ScriptedOrigin::start().await;
    o.set("/sie", Reply::ok("kept").cc("max-age=10, stale-if-error=100"));
    o.set("/strict", Reply::ok("kept").cc("max-age=10"));
    let (e, clock) = start_edge_manual_clock(o.addr, |c| c.origin_timeout = Duration::from_millis(300)).await;
    o.set_clock(clock.clone());
    let c = client();
    c.get(e.url("/sie")).send().await.unwrap();
    c.get(e.url("/strict")).send().await.unwrap();
    clock.advance(Duration::from_secs(20));
    // 503
    o.set("/sie", Reply::status(503, "down"));
    o.set("/strict", Reply::status(503, "down"));
    let r = c.get(e.url("/sie")).send().await.unwrap();
    let cs = header(&r, "cache-status");
    assert_eq!(r.status(), 200, "{cs}");
    assert!(cs.contains("fwd=stale") && cs.contains("fwd-status=503") && cs.contains("detail=stale-if-error"), "{cs}");
    assert_eq!(r.text().await.unwrap(), "kept");
    let r = c.get(e.url("/strict")).send().await.unwrap();
    assert_eq!(r.status(), 503, "no stale-if-error: the error passes");
    // timeout: the origin answers only after the edge gave up
    let late = Gate::new();
    o.set("/sie", Reply::ok("late").hold(&late));
    let r = c.get(e.url("/sie")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "cache-status").contains("fwd-status=504"));
    late.open();
    // connection refused
    o.stop().await;
    let r = c.get(e.url("/sie")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "cache-status").contains("detail=stale-if-error"));
    // outside the window
    clock.advance(Duration::from_secs(200));
    let r = c.get(e.url("/sie")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    o.resume().await;
}

#[tokio::test]
async fn configured_grace_and_stale_if_error_apply_per_path_but_not_against_must_revalidate() {
    let rule = |prefix: &str, grace: Option<u64>, sie: Option<u64>| CacheRule {
        prefix: prefix.into(),
        min_ttl: None,
        default_ttl: None,
        max_ttl: None,
        grace: grace.map(Dur::secs),
        stale_if_error: sie.map(Dur::secs),
        negative_ttl: None,
        ..CacheRule::default()
    };
    run_with(
        vec![
            ("g-grace", vec![get().reply(ok("max-age=10")), get().after(20).hit().cs("detail=stale-while-revalidate")]),
            (
                "g-must-revalidate",
                vec![
                    get().reply(|_| Reply::ok("x").cc("max-age=10, must-revalidate").header("etag", "\"m\"")),
                    get().after(20).reply(|_| Reply::status(503, "down")).status(503),
                ],
            ),
            (
                "g-error",
                vec![
                    get().reply(|_| Reply::ok("x").cc("max-age=10").header("etag", "\"m\"")),
                    get().after(20).reply(|_| Reply::status(500, "down")).cs("detail=stale-if-error").body("x"),
                ],
            ),
            ("other-no-grace", vec![get().reply(ok("max-age=10")), get().after(20).cs("fwd=stale").origin(2)]),
        ],
        move |c| c.rules = vec![rule("/g-", Some(100), Some(100)), rule("/g-error", None, Some(100))],
    )
    .await;
}

#[tokio::test]
async fn vary_keeps_variants_and_normalises_selecting_fields() {
    run(vec![
        (
            "vary-two-variants",
            vec![
                get()
                    .req("accept-encoding", "gzip")
                    .reply(|_| Reply::ok("g").cc("max-age=100").header("vary", "Accept-Encoding"))
                    .origin(1),
                get().req("accept-encoding", "br").cs("fwd=vary-miss").origin(2),
                get().req("accept-encoding", "gzip").hit().origin(2),
                get().req("accept-encoding", "br").hit().origin(2),
            ],
        ),
        (
            "vary-normalised",
            vec![
                get()
                    .req("accept-encoding", "gzip, br")
                    .reply(|_| Reply::ok("x").cc("max-age=100").header("vary", "accept-encoding")),
                get().req("accept-encoding", "br,gzip").hit().origin(1),
                get().req("accept-encoding", "BR ,  gzip, identity;q=0").hit().origin(1),
            ],
        ),
        (
            "vary-absent-field",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").header("vary", "x-lang")),
                get().hit().origin(1),
                get().req("x-lang", "fr").cs("fwd=vary-miss").origin(2),
            ],
        ),
        (
            "vary-star-never-matches",
            vec![get().reply(|_| Reply::ok("x").cc("max-age=100").header("vary", "*")), get().miss().origin(2)],
        ),
        (
            "vary-changed-replaces",
            vec![
                get().req("x-a", "1").reply(|_| Reply::ok("by-a").cc("max-age=100").header("vary", "x-a")),
                get().req("x-a", "1").hit(),
                get()
                    .req("x-a", "1")
                    .req("cache-control", "no-cache")
                    .reply(|_| Reply::ok("by-b").cc("max-age=100").header("vary", "x-b")),
                get().req("x-a", "1").hit().body("by-b").origin(2),
            ],
        ),
    ])
    .await;
}

#[tokio::test]
async fn ranges_are_served_from_a_stored_full_object() {
    run(vec![
        (
            "range-single",
            vec![
                get().reply(|_| Reply::ok("0123456789").cc("max-age=100").header("etag", "\"r\"")),
                get()
                    .req("range", "bytes=2-5")
                    .status(206)
                    .hit()
                    .has("content-range", "bytes 2-5/10")
                    .body("2345")
                    .origin(1),
                get().req("range", "bytes=-3").status(206).body("789"),
                get().req("range", "bytes=7-").status(206).body("789"),
                get().req("range", "bytes=20-30").status(416).has("content-range", "bytes */10"),
                get().req("range", "bytes=0-1,4-5").status(200).body("0123456789"),
                get().req("range", "bytes=0-1").req("if-range", "\"other\"").status(200).body("0123456789"),
                get().req("range", "bytes=0-1").req("if-range", "\"r\"").status(206).body("01").origin(1),
            ],
        ),
        (
            "range-miss-fills-whole",
            vec![
                get()
                    .req("range", "bytes=0-2")
                    .reply(|_| Reply::ok("abcdef").cc("max-age=100"))
                    .status(206)
                    .body("abc"),
                get().hit().body("abcdef").origin(1),
            ],
        ),
    ])
    .await;
}

fn video(len: usize) -> bytes::Bytes {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1]).collect::<Vec<u8>>().into()
}

#[tokio::test]
async fn objects_over_the_max_size_are_cached_as_validated_slices() {
    let o = ScriptedOrigin::start().await;
    let big = video(5 * 1024 * 1024 + 123);
    o.set("/video", Reply::ok(big.clone()).cc("max-age=600").header("etag", "\"vid-1\"").ranges());
    let (e, _) = start_edge_manual_clock(o.addr, |c| {
        c.store.max_object = 1 << 20;
        c.slice_size = 1 << 20;
    })
    .await;
    let c = client();
    // a range in the middle: the headers once, then one slice
    let r = c.get(e.url("/video")).header("range", "bytes=2097152-2097161").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert!(header(&r, "cache-status").contains("fwd=uri-miss"), "{}", header(&r, "cache-status"));
    assert_eq!(r.bytes().await.unwrap(), big.slice(2097152..2097162));
    assert_eq!(o.count("/video"), 2, "the headers, then slice 2");
    assert_eq!(o.last("/video").unwrap().headers.get("range").unwrap(), "bytes=2097152-3145727");
    assert_eq!(o.last("/video").unwrap().headers.get("if-range").unwrap(), "\"vid-1\"");
    // the same range again: a hit, nothing new at the origin
    let r = c.get(e.url("/video")).header("range", "bytes=2097152-2097161").send().await.unwrap();
    let cs = header(&r, "cache-status");
    assert!(cs.contains("; hit") && cs.contains("detail=slices"), "{cs}");
    assert_eq!(r.bytes().await.unwrap(), big.slice(2097152..2097162));
    assert_eq!(o.count("/video"), 2);
    // the whole object: the other slices are fetched, the body is intact
    let r = c.get(e.url("/video")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("fwd=partial"));
    assert_eq!(header(&r, "content-length"), big.len().to_string());
    assert!(r.bytes().await.unwrap() == big, "whole body intact");
    assert_eq!(o.count("/video"), 2 + 5, "six slices, one already stored");
    // and now everything is a hit
    let r = c.get(e.url("/video")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("; hit"));
    assert!(r.bytes().await.unwrap() == big);
    assert_eq!(o.count("/video"), 7);
}

#[tokio::test]
async fn a_slice_that_no_longer_matches_makes_the_edge_start_over() {
    let o = ScriptedOrigin::start().await;
    let v1 = video(3 * 1024 * 1024);
    let v2: bytes::Bytes = v1.iter().map(|b| b ^ 0xFF).collect::<Vec<u8>>().into();
    o.set("/movie", Reply::ok(v1.clone()).cc("max-age=600").header("etag", "\"m1\"").ranges());
    let (e, _) = start_edge_manual_clock(o.addr, |c| {
        c.store.max_object = 1 << 20;
        c.slice_size = 1 << 20;
    })
    .await;
    let c = client();
    let r = c.get(e.url("/movie")).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap(), v1.slice(0..10));
    // the object changes at the origin; slice 1 is not stored yet
    o.set("/movie", Reply::ok(v2.clone()).cc("max-age=600").header("etag", "\"m2\"").ranges());
    let r = c.get(e.url("/movie")).header("range", "bytes=1048576-1048585").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), v2.slice(1048576..1048586), "new content, never a mix");
    let r = c.get(e.url("/movie")).send().await.unwrap();
    assert!(r.bytes().await.unwrap() == v2, "whole object is the new version");
}

#[tokio::test]
async fn unsafe_methods_invalidate_the_uri_and_same_origin_locations() {
    let o = ScriptedOrigin::start().await;
    let (e, _) = start_edge_manual_clock(o.addr, |_| {}).await;
    let c = client();
    for p in ["/inv/a", "/inv/b", "/inv/c", "/inv/d"] {
        o.set(p, Reply::ok("v").cc("max-age=100"));
        c.get(e.url(p)).send().await.unwrap();
    }
    // Same-origin means the host the edge sends the origin (its address by
    // default), not whatever Host the client sent (docs/security.md).
    let host = o.addr.to_string();
    o.set(
        "/inv/a",
        Reply::ok("done").header("location", "/inv/b").header("content-location", &format!("http://{host}/inv/c")),
    );
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let r = c.request(method.clone(), e.url("/inv/a")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{method}");
        assert!(header(&r, "cache-status").contains("fwd=bypass"));
        for p in ["/inv/a", "/inv/b", "/inv/c"] {
            let r = c.get(e.url(p)).send().await.unwrap();
            assert!(header(&r, "cache-status").contains("fwd=uri-miss"), "{method} invalidates {p}");
        }
        assert!(
            header(&c.get(e.url("/inv/d")).send().await.unwrap(), "cache-status").contains("; hit"),
            "{method} leaves /inv/d"
        );
        o.set("/inv/b", Reply::ok("v").cc("max-age=100"));
    }
    // an error response does not invalidate; another origin's Location is ignored
    o.set("/inv/d", Reply::status(500, "no"));
    c.post(e.url("/inv/d")).send().await.unwrap();
    o.set("/inv/a", Reply::ok("v").cc("max-age=100"));
    c.get(e.url("/inv/a")).send().await.unwrap();
    o.set("/inv/a", Reply::ok("done").header("location", "http://127.9.9.9:1/inv/b"));
    c.get(e.url("/inv/b")).send().await.unwrap();
    c.post(e.url("/inv/a")).send().await.unwrap();
    let r = c.get(e.url("/inv/b")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("; hit"), "a foreign Location is not ours to invalidate");
    let _ = run(vec![("inv-post-step", vec![post().reply(|_| Reply::ok("x")).cs("fwd=bypass")])]).await;
}

#[tokio::test]
async fn targeted_fields_govern_the_edge() {
    run(vec![
        (
            "cdn-cc-over-cc",
            vec![
                get()
                    .reply(|_| Reply::ok("x").cc("no-store").header("cdn-cache-control", "max-age=100"))
                    .has("cache-control", "no-store"),
                get().after(50).hit().origin(1),
            ],
        ),
        (
            "cdn-cc-no-store",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").header("cdn-cache-control", "no-store")),
                get().miss().origin(2),
            ],
        ),
        (
            "cdn-cc-ignores-expires",
            vec![
                get().reply(|c| {
                    Reply::ok("x").header("cdn-cache-control", "max-age=100").header("expires", &http_date(c, 5))
                }),
                get().after(50).hit().origin(1),
            ],
        ),
        (
            "surrogate-control-max-age-not-forwarded",
            vec![
                get()
                    .reply(|_| Reply::ok("x").cc("max-age=1").header("surrogate-control", "max-age=100"))
                    .lacks("surrogate-control"),
                get().after(50).hit().lacks("surrogate-control").origin(1),
            ],
        ),
        (
            "surrogate-control-no-store",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=100").header("surrogate-control", "no-store")),
                get().miss().origin(2),
            ],
        ),
        (
            "surrogate-targeted-at-us",
            vec![
                get().reply(|_| Reply::ok("x").header("surrogate-control", "max-age=1, max-age=100;edge-test")),
                get().after(50).hit().origin(1),
            ],
        ),
        (
            "surrogate-targeted-elsewhere",
            vec![
                get().reply(|_| Reply::ok("x").cc("max-age=1").header("surrogate-control", "max-age=100;other-cdn")),
                get().after(50).miss().origin(2),
            ],
        ),
    ])
    .await;
}

#[tokio::test]
async fn negative_responses_follow_heuristics_or_the_configured_ttl() {
    let neg = CacheRule {
        prefix: "/neg-".into(),
        min_ttl: None,
        default_ttl: None,
        max_ttl: None,
        grace: None,
        stale_if_error: None,
        negative_ttl: Some(Dur::secs(30)),
        ..CacheRule::default()
    };
    run_with(
        vec![
            (
                "neg-404",
                vec![
                    get().reply(|_| Reply::status(404, "no")).status(404),
                    get().after(20).status(404).hit().origin(1),
                    get().after(20).status(404).miss().origin(2),
                ],
            ),
            (
                "neg-410-explicit-wins",
                vec![
                    get().reply(|_| Reply::status(410, "gone").cc("max-age=5")).status(410),
                    get().after(10).status(410).miss(),
                ],
            ),
            (
                "plain-404-without-anything",
                vec![get().reply(|_| Reply::status(404, "no")).status(404), get().status(404).miss().origin(2)],
            ),
        ],
        move |c| c.rules = vec![neg.clone()],
    )
    .await;
}

#[tokio::test]
async fn world_ttl_rules_bound_and_default_the_lifetime() {
    let rule = |prefix: &str, min: Option<u64>, default: Option<u64>, max: Option<u64>| CacheRule {
        prefix: prefix.into(),
        min_ttl: min.map(Dur::secs),
        default_ttl: default.map(Dur::secs),
        max_ttl: max.map(Dur::secs),
        grace: None,
        stale_if_error: None,
        negative_ttl: None,
        ..CacheRule::default()
    };
    let rules = vec![
        rule("/min", Some(60), None, None),
        rule("/max", None, None, Some(10)),
        rule("/def", None, Some(50), None),
    ];
    run_with(
        vec![
            (
                "min-ttl-raises",
                vec![
                    get().reply(ok("max-age=1")).cs("ttl=60; stored; detail=min-ttl"),
                    get().after(30).hit().cs("detail=memory+min-ttl").origin(1),
                ],
            ),
            (
                "min-ttl-not-for-no-cache",
                vec![
                    get().reply(|_| Reply::ok("x").cc("no-cache").header("etag", "\"n\"")),
                    get().cs("fwd=stale").origin(2),
                ],
            ),
            ("max-ttl-caps", vec![get().reply(ok("max-age=1000")).cs("ttl=10"), get().after(20).miss().origin(2)]),
            (
                "max-ttl-marked",
                vec![
                    get().reply(ok("max-age=1000")).cs("ttl=10; stored; detail=max-ttl"),
                    get().after(5).hit().cs("detail=memory+max-ttl").origin(1),
                ],
            ),
            (
                "default-ttl-without-explicit",
                vec![
                    get()
                        .reply(|c| Reply::ok("x").header("last-modified", &http_date(c, -100000)))
                        .cs("ttl=50; stored; detail=default-ttl"),
                    get().after(40).hit().cs("detail=memory+default-ttl"),
                    get().after(20).miss().origin(2),
                ],
            ),
            ("default-ttl-not-over-explicit", vec![get().reply(ok("max-age=5")).cs("ttl=5; stored").not_cs("detail=")]),
        ],
        move |c| c.rules = rules.clone(),
    )
    .await;
}

#[tokio::test]
async fn cache_status_reports_every_rfc_9211_parameter() {
    // hit, ttl, detail; fwd=uri-miss, fwd-status, stored; collapsed (in
    // foundation.rs); vary-miss, request, stale, partial, bypass (above).
    run(vec![(
        "cs",
        vec![
            get().reply(ok("max-age=100")).cs("edge-test; fwd=uri-miss; fwd-status=200; ttl=100; stored"),
            get().cs("edge-test; hit; ttl=100; detail=memory"),
            get()
                .req("cache-control", "no-cache")
                .reply(ok("no-store"))
                .cs("edge-test; fwd=request; fwd-status=200; detail=no-store"),
            post().reply(|_| Reply::ok("x")).cs("edge-test; fwd=bypass"),
        ],
    )])
    .await;
}
