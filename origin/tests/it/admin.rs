//! The admin API: auth, validation, stats, metrics.

use origin::Config;

use crate::util::{TOKEN, client, config, start, start_with};

#[tokio::test]
async fn mutating_routes_need_the_bearer_token() {
    let o = start().await;
    let c = client();
    for (path, body) in [("/faults", r#"{"outage":"status"}"#), ("/bump", r#"{"path":"/obj/1"}"#)] {
        let r = c.post(o.admin_url(path)).body(body).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without a token");
        assert!(r.headers().contains_key("www-authenticate"));
        assert!(r.text().await.unwrap().contains("missing"));
        let r = c.post(o.admin_url(path)).bearer_auth("wrong").body(body).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} with a wrong token");
        let r = c.post(o.admin_url(path)).header("authorization", format!("Basic {TOKEN}")).body(body).send().await;
        assert_eq!(r.unwrap().status(), 401, "{path} with another scheme");
    }
    assert_eq!(o.faults(), origin::Faults::default(), "nothing changed");
    assert_eq!(o.version_of("/obj/1"), 1);
    let r = c.delete(o.admin_url("/faults")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // GET routes are open.
    assert_eq!(c.get(o.admin_url("/faults")).send().await.unwrap().status(), 200);
}

/// Issue 12, defect 5: without a token the faults and bump API must be
/// off (it used to accept anyone), with a reason; reads stay open.
#[tokio::test]
async fn without_a_configured_token_the_mutating_routes_are_off() {
    let o = start_with(Config { admin_token: None, ..config() }).await;
    let c = client();
    for (method, path, body) in [
        (reqwest::Method::POST, "/bump", r#"{"prefix":"/obj/"}"#),
        (reqwest::Method::POST, "/faults", r#"{"outage":"reset"}"#),
        (reqwest::Method::DELETE, "/faults", ""),
    ] {
        for token in [None, Some(""), Some("guess")] {
            let mut r = c.request(method.clone(), o.admin_url(path)).body(body);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 403, "{method} {path} with {token:?}");
            let j: serde_json::Value = r.json().await.unwrap();
            assert!(j["error"].as_str().unwrap_or_default().contains("no admin token is configured"), "{j}");
        }
    }
    assert_eq!(o.version_of("/obj/5"), 1, "nothing bumped");
    assert_eq!(o.faults(), origin::Faults::default(), "no fault set");
    assert_eq!(c.get(o.admin_url("/faults")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn bad_json_and_bad_values_are_400_with_a_reason() {
    let o = start().await;
    let c = client();
    for (path, body, needle) in [
        ("/faults", "{not json", "invalid JSON"),
        ("/faults", "", "invalid JSON"),
        ("/faults", r#"{"error_rate": 2}"#, "error_rate"),
        ("/faults", r#"{"error_status": 200}"#, "error_status"),
        ("/faults", r#"{"outage": "sometimes"}"#, "unknown variant"),
        ("/faults", r#"{"latency": 5}"#, "unknown field"),
        ("/bump", r#"{"path": "obj/1"}"#, "must start with"),
        ("/bump", r#"{"url": "/obj/1"}"#, "invalid JSON"),
    ] {
        let r = c.post(o.admin_url(path)).bearer_auth(TOKEN).body(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path} {body}");
        let j: serde_json::Value = r.json().await.unwrap();
        let reason = j["error"].as_str().unwrap_or_default();
        assert!(reason.contains(needle), "{path} {body}: {reason}");
    }
    let huge = format!("{{\"path\": \"/{}\"}}", "a".repeat(100_000));
    let r = c.post(o.admin_url("/bump")).bearer_auth(TOKEN).body(huge).send().await.unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn bump_over_http_reports_the_new_version() {
    let o = start().await;
    let c = client();
    let r = c.post(o.admin_url("/bump")).bearer_auth(TOKEN).body(r#"{"path":"/obj/7"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let b: origin::Bumped = r.json().await.unwrap();
    assert_eq!((b.path.as_deref(), b.version, b.bumps), (Some("/obj/7"), Some(2), 1));
    let v: serde_json::Value = c.get(o.admin_url("/version?path=/obj/7")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["version"], 2);
}

#[tokio::test]
async fn stats_count_requests_bytes_and_paths() {
    let o = start().await;
    let c = client();
    let mut body_bytes = 0;
    for _ in 0..3 {
        body_bytes += c.get(o.url("/obj/1")).send().await.unwrap().bytes().await.unwrap().len();
    }
    body_bytes += c.get(o.url("/obj/2")).send().await.unwrap().bytes().await.unwrap().len();
    c.get(o.url("/obj/999999")).send().await.unwrap();

    let s: origin::StatsSnapshot = c.get(o.admin_url("/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(s.requests, 5);
    assert!(s.bytes_out >= body_bytes as u64, "{} < {body_bytes}", s.bytes_out);
    assert!(s.bytes_in > 0);
    assert_eq!(s.responses.get(&200), Some(&4));
    assert_eq!(s.responses.get(&404), Some(&1));
    assert_eq!(s.responses_by_class.get("2xx"), Some(&4));
    assert_eq!(o.stats().requests, 5, "admin requests are not counted");

    let p: serde_json::Value =
        c.get(o.admin_url("/stats/path?path=%2Fobj%2F1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(p, serde_json::json!({"path": "/obj/1", "requests": 3}));
    assert_eq!(o.requests_for("/obj/2"), 1);
    assert_eq!(o.requests_for("/obj/3"), 0);
    assert_eq!(c.get(o.admin_url("/stats/path")).send().await.unwrap().status(), 400);

    let m = c.get(o.admin_url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains(&format!("{} 5\n", origin::stats::REQUESTS_TOTAL)), "{m}");
    assert!(m.contains("cdnlab_origin_responses_total{code=\"200\"} 4"), "{m}");
    assert!(m.contains(origin::stats::BYTES_OUT_TOTAL));
}

#[tokio::test]
async fn healthz_404_and_405_on_the_admin_side() {
    let o = start().await;
    let c = client();
    let r = c.get(o.admin_url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok\n");
    assert_eq!(c.get(o.admin_url("/nope")).send().await.unwrap().status(), 404);
    let r = c.get(o.admin_url("/bump")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(c.post(o.admin_url("/stats")).send().await.unwrap().status(), 405);
}
