//! Normalisation of what the cache keys on: request targets
//! (`edge/src/key.rs`), the request fields that select a variant
//! (`edge/src/vary.rs`), and purge targets as the admin API receives them
//! (`edge/src/purge/spec.rs`, JSON or fields).
//!
//! Properties: never a panic; normalising is idempotent (the key of a key
//! is the key itself, for targets, variant fields and purge specs alike);
//! a target already in normal form is its own key (the raw hit path looks
//! it up as it is); a key's URL part is the key; a variant key's URL part
//! is its primary key; a purge URL is a cache key.
#![no_main]

use arbitrary::Arbitrary;
use edge::key::{CacheKey, is_normal};
use edge::purge::spec::{PurgeRequest, PurgeSpec, Target};
use edge::vary::{normalised, variant_key};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const VARY: [&str; 5] = ["accept-encoding", "accept-language", "accept-charset", "x-lang", "user-agent"];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    target: &'a str,
    fields: Vec<(u8, &'a [u8])>,
    purge: Purge<'a>,
    json: &'a [u8],
}

#[derive(Arbitrary, Debug)]
struct Purge<'a> {
    url: Option<&'a str>,
    prefix: Option<&'a str>,
    tag: Option<&'a str>,
    all: Option<bool>,
    soft: bool,
}

fn key(target: &str) {
    let Ok(k) = CacheKey::from_target(target) else { return };
    let again = CacheKey::from_target(k.as_str());
    assert_eq!(again.as_ref(), Ok(&k), "normalising {target:?} twice: {k:?} then {again:?}");
    if is_normal(target) {
        assert_eq!(k.as_str(), target, "a normal target is its own key");
    }
    // Targets that can reach the edge (hyper parses them as a URI).
    if let Ok(uri) = target.parse::<http::Uri>()
        && uri.scheme().is_none()
    {
        let k = CacheKey::from_uri(&uri).expect("a parsed origin-form target has a key");
        assert_eq!(k.primary(), k.as_str(), "key {k:?} of a request target has a suffix");
        assert!(k.path().len() <= k.as_str().len());
    }
}

fn vary(fields: &[(u8, &[u8])]) {
    let mut req = HeaderMap::new();
    for (n, v) in fields {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            req.append(HeaderName::from_static(VARY[usize::from(*n) % VARY.len()]), v);
        }
    }
    let names: Vec<HeaderName> = VARY.iter().map(|n| HeaderName::from_static(n)).collect();
    for n in &names {
        let Some(v) = normalised(n, &req) else { continue };
        let hv = HeaderValue::from_str(&v).unwrap_or_else(|_| panic!("normalised {n} {v:?} is not a field value"));
        let mut again = HeaderMap::new();
        again.insert(n.clone(), hv);
        assert_eq!(normalised(n, &again).as_deref(), Some(v.as_str()), "normalising {n} twice");
    }
    let primary = CacheKey::from_target("/v?x=1").expect("key");
    let vk = variant_key(&primary, &names, &req);
    assert_eq!(vk.primary(), primary.as_str(), "variant key {vk:?}");
}

fn purge(r: PurgeRequest) {
    let Ok(spec) = PurgeSpec::try_from(&r) else { return };
    let back = PurgeSpec::try_from(&PurgeRequest::from(&spec));
    assert_eq!(back.as_ref().ok(), Some(&spec), "purge spec {spec:?} does not survive a round trip: {back:?}");
    let json = serde_json::to_vec(&PurgeRequest::from(&spec)).expect("json");
    let parsed: PurgeRequest = serde_json::from_slice(&json).expect("our own json");
    assert_eq!(PurgeSpec::try_from(&parsed).ok(), Some(spec.clone()));
    if let Target::Url(u) = &spec.target {
        assert_eq!(CacheKey::from_target(u).map(|k| k.as_str() == u), Ok(true), "purge url {u:?} is not a key");
    }
}

fuzz_target!(|input: Input<'_>| {
    key(input.target);
    vary(&input.fields);
    let p = input.purge;
    purge(PurgeRequest {
        url: p.url.map(str::to_string),
        prefix: p.prefix.map(str::to_string),
        tag: p.tag.map(str::to_string),
        all: p.all,
        soft: p.soft,
        ..Default::default()
    });
    if let Ok(r) = serde_json::from_slice::<PurgeRequest>(input.json) {
        purge(r);
    }
});
