//! Fault injection: latency, error rate, and the three outages.

use std::time::{Duration, Instant};

use origin::{Faults, Outage};

use crate::util::{PATIENCE, TOKEN, client, raw, start};

#[tokio::test]
async fn latency_is_added_before_every_response() {
    let o = start().await;
    let c = client();
    o.set_faults(Faults { latency_ms: 300, ..Faults::default() });
    let t = Instant::now();
    assert_eq!(c.get(o.url("/obj/1")).send().await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
    // Cleared, it is gone: with a minute of latency still in force the
    // client (PATIENCE, 30 s) would give up; no busy machine takes that long.
    o.set_faults(Faults { latency_ms: 60_000, ..Faults::default() });
    o.set_faults(Faults::default());
    assert_eq!(c.get(o.url("/obj/1")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_error_rate_of_one_fails_every_request() {
    let o = start().await;
    let c = client();
    let r = c.post(o.admin_url("/faults")).bearer_auth(TOKEN).body(r#"{"error_rate": 1.0}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for i in 0..10 {
        assert_eq!(c.get(o.url(&format!("/obj/{i}"))).send().await.unwrap().status(), 503);
    }
    o.set_faults(Faults { error_rate: 1.0, error_status: 500, ..Faults::default() });
    assert_eq!(c.get(o.url("/obj/1")).send().await.unwrap().status(), 500);
    let s = o.stats();
    assert_eq!(s.errors_injected, 11);
    assert_eq!(s.responses.get(&503), Some(&10));
    // A partial rate fails some requests, not all.
    o.set_faults(Faults { error_rate: 0.5, ..Faults::default() });
    let mut failed = 0;
    for _ in 0..40 {
        if c.get(o.url("/obj/1")).send().await.unwrap().status() == 503 {
            failed += 1;
        }
    }
    assert!((5..=35).contains(&failed), "{failed} of 40");
}

#[tokio::test]
async fn outage_reset_closes_connections_without_a_response() {
    let o = start().await;
    let c = client();
    assert_eq!(c.get(o.url("/obj/1")).send().await.unwrap().status(), 200);
    o.set_faults(Faults { outage: Outage::Reset, ..Faults::default() });
    let e = c.get(o.url("/obj/1")).send().await.expect_err("a reset is a connection error");
    assert!(!e.is_timeout(), "{e:?}");
    assert_eq!(raw(o.public, "GET /obj/1 HTTP/1.1").await, "", "no response bytes at all");
    assert_eq!(raw(o.public, "HEAD /obj/1 HTTP/1.1").await, "", "not for HEAD either");
    assert_eq!(raw(o.public, "POST /echo/x HTTP/1.1").await, "");
    assert!(o.stats().resets >= 2);
    // The admin side still answers, and clearing the outage restores service.
    let r = c.delete(o.admin_url("/faults")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(c.get(o.url("/obj/1")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn outage_hang_never_answers_until_shutdown() {
    let o = start().await;
    o.set_faults(Faults { outage: Outage::Hang, ..Faults::default() });
    let quick = reqwest::Client::builder().no_proxy().timeout(Duration::from_millis(300)).build().unwrap();
    let e = quick.get(o.url("/obj/1")).send().await.expect_err("hangs");
    assert!(e.is_timeout(), "{e:?}");
    // A request still hanging does not hold shutdown up: it is let go at
    // once, not cut off when the drain timeout ends.
    let url = o.url("/obj/2");
    let pending = tokio::spawn(async move { client().get(url).send().await });
    let deadline = Instant::now() + PATIENCE;
    while o.stats().hangs < 2 {
        assert!(Instant::now() < deadline, "the second request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = Instant::now();
    o.shutdown().await;
    assert!(t.elapsed() < runtime::serve::DRAIN_TIMEOUT, "shutdown took {:?}", t.elapsed());
    assert!(pending.await.unwrap().is_err());
}

#[tokio::test]
async fn outage_status_answers_503_to_everything() {
    let o = start().await;
    let c = client();
    o.set_faults(Faults { outage: Outage::Status, ..Faults::default() });
    for p in ["/obj/1", "/echo/x", "/nothing"] {
        assert_eq!(c.get(o.url(p)).send().await.unwrap().status(), 503, "{p}");
    }
    // The admin listener is not affected.
    assert_eq!(c.get(o.admin_url("/healthz")).send().await.unwrap().status(), 200);
    let f: Faults = c.get(o.admin_url("/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(f.outage, Outage::Status);
}

#[tokio::test]
async fn corrupt_bodies_no_longer_match_their_digest() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let o = start().await;
    let c = client();
    let digest =
        |b: &[u8]| format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b)));
    let r = c.get(o.url("/obj/3")).send().await.unwrap();
    let want = r.headers()["content-digest"].to_str().unwrap().to_string();
    assert_eq!(digest(&r.bytes().await.unwrap()), want);
    let p = c.post(o.admin_url("/faults")).bearer_auth(TOKEN).body(r#"{"corrupt": true}"#).send().await.unwrap();
    assert_eq!(p.status(), 200);
    let r = c.get(o.url("/obj/3")).send().await.unwrap();
    assert_eq!(r.headers()["content-digest"].to_str().unwrap(), want, "the digest still claims the original");
    assert_ne!(digest(&r.bytes().await.unwrap()), want, "but the body differs");
}
