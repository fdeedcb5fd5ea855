//! The synthetic catalog over HTTP: determinism, digests, bumps, headers,
//! conditionals, ranges, HEAD, echo.

use origin::Bump;
use origin::catalog::{object_body, object_size};

use crate::util::{catalog, client, digest, header, start};

#[tokio::test]
async fn the_same_id_and_version_give_the_same_verifiable_bytes() {
    let o = start().await;
    let c = client();
    let a = c.get(o.url("/obj/7")).send().await.unwrap();
    assert_eq!(a.status(), 200);
    let (etag, cd) = (header(&a, "etag"), header(&a, "content-digest"));
    let body_a = a.bytes().await.unwrap();
    let b = c.get(o.url("/obj/7")).send().await.unwrap();
    assert_eq!(header(&b, "etag"), etag);
    let body_b = b.bytes().await.unwrap();
    assert_eq!(body_a, body_b);
    assert_eq!(cd, digest(&body_a), "Content-Digest must be the SHA-256 of the body");
    // Anyone can regenerate the body from the id, version and size model.
    let size = object_size(&catalog().size, 7);
    assert_eq!(body_a.len() as u64, size);
    assert_eq!(body_a, object_body(7, 1, size));
    // A second origin (a restart) serves the same bytes and ETag.
    let o2 = start().await;
    let r = c.get(o2.url("/obj/7")).send().await.unwrap();
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(r.bytes().await.unwrap(), body_a);
}

#[tokio::test]
async fn a_bump_changes_bytes_etag_and_last_modified() {
    let clock = world::Clock::manual(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000));
    let o = crate::util::start_with(origin::Config { clock: clock.clone(), ..crate::util::config() }).await;
    let c = client();
    let before = c.get(o.url("/obj/7")).send().await.unwrap();
    let (etag1, lm1) = (header(&before, "etag"), header(&before, "last-modified"));
    let body1 = before.bytes().await.unwrap();
    assert!(etag1.starts_with("\"o7-v1-"), "{etag1}");
    assert_eq!(lm1, "Tue, 14 Nov 2023 22:13:20 GMT");

    clock.advance(std::time::Duration::from_secs(60));
    let bumped = o.bump(Bump::Path("/obj/7".into())).unwrap();
    assert_eq!(bumped.version, Some(2));
    let after = c.get(o.url("/obj/7")).send().await.unwrap();
    let (etag2, lm2, cd2) = (header(&after, "etag"), header(&after, "last-modified"), header(&after, "content-digest"));
    let body2 = after.bytes().await.unwrap();
    assert!(etag2.starts_with("\"o7-v2-"), "{etag2}");
    assert_eq!(lm2, "Tue, 14 Nov 2023 22:14:20 GMT");
    assert_eq!(body2.len(), body1.len(), "a bump keeps the size");
    assert_ne!(body2, body1);
    assert_eq!(cd2, digest(&body2));
    // Other objects are untouched; a prefix bump moves them all.
    let other = c.get(o.url("/obj/8")).send().await.unwrap();
    assert!(header(&other, "etag").starts_with("\"o8-v1-"));
    o.bump(Bump::Prefix("/obj/".into())).unwrap();
    let other = c.get(o.url("/obj/8")).send().await.unwrap();
    assert!(header(&other, "etag").starts_with("\"o8-v2-"));
    assert_eq!(o.version_of("/obj/7"), 3);
}

#[tokio::test]
async fn objects_carry_the_rule_headers_and_surrogate_keys() {
    let o = start().await;
    let r = client().get(o.url("/obj/17")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/x-cdnlab");
    assert_eq!(header(&r, "cache-control"), "public, max-age=60");
    assert_eq!(header(&r, "vary"), "Accept-Encoding");
    assert_eq!(header(&r, "surrogate-key"), "obj-17 group-7 catalog");
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert!(header(&r, "date").ends_with(" GMT"));
    assert!(header(&r, "last-modified").ends_with(" GMT"));
    assert_eq!(header(&r, "content-length"), object_size(&catalog().size, 17).to_string());
    assert_eq!(header(&r, "repr-digest"), header(&r, "content-digest"));
}

#[tokio::test]
async fn unknown_ids_are_404_and_other_methods_405() {
    let o = start().await;
    let c = client();
    for p in ["/obj/1000", "/obj/abc", "/obj/07", "/obj/", "/obj/1/2", "/nothing"] {
        assert_eq!(c.get(o.url(p)).send().await.unwrap().status(), 404, "{p}");
    }
    for m in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE, reqwest::Method::OPTIONS] {
        let r = c.request(m.clone(), o.url("/obj/1")).send().await.unwrap();
        assert_eq!(r.status(), 405, "{m}");
        assert_eq!(header(&r, "allow"), "GET, HEAD");
    }
}

#[tokio::test]
async fn if_none_match_and_if_modified_since_give_304() {
    let o = start().await;
    let c = client();
    let r = c.get(o.url("/obj/3")).send().await.unwrap();
    let (etag, lm) = (header(&r, "etag"), header(&r, "last-modified"));
    let nm = c.get(o.url("/obj/3")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(nm.status(), 304);
    assert_eq!(header(&nm, "etag"), etag);
    assert_eq!(header(&nm, "cache-control"), "public, max-age=60");
    assert_eq!(header(&nm, "last-modified"), lm);
    assert!(!header(&nm, "date").is_empty());
    assert!(nm.bytes().await.unwrap().is_empty());
    let weak = c.get(o.url("/obj/3")).header("if-none-match", format!("\"x\", W/{etag}")).send().await.unwrap();
    assert_eq!(weak.status(), 304);
    let star = c.get(o.url("/obj/3")).header("if-none-match", "*").send().await.unwrap();
    assert_eq!(star.status(), 304);
    let ims = c.get(o.url("/obj/3")).header("if-modified-since", &lm).send().await.unwrap();
    assert_eq!(ims.status(), 304);
    // If-None-Match that does not match wins over a matching date.
    let both = c
        .get(o.url("/obj/3"))
        .header("if-none-match", "\"old\"")
        .header("if-modified-since", &lm)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 200);
    let im = c.get(o.url("/obj/3")).header("if-match", "\"other\"").send().await.unwrap();
    assert_eq!(im.status(), 412);
    let ius =
        c.get(o.url("/obj/3")).header("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT").send().await.unwrap();
    assert_eq!(ius.status(), 412);
    assert_eq!(o.stats().not_modified, 4);
}

#[tokio::test]
async fn ranges_give_206_multipart_or_416() {
    let o = start().await;
    let c = client();
    let full = c.get(o.url("/obj/5")).send().await.unwrap().bytes().await.unwrap();
    let len = full.len();
    let r = c.get(o.url("/obj/5")).header("range", "bytes=10-19").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), format!("bytes 10-19/{len}"));
    assert_eq!(header(&r, "content-length"), "10");
    assert_eq!(r.bytes().await.unwrap(), full.slice(10..20));

    let r = c.get(o.url("/obj/5")).header("range", "bytes=-7").send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap(), full.slice(len - 7..));
    let r = c.get(o.url("/obj/5")).header("range", format!("bytes={}-", len - 3)).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap(), full.slice(len - 3..));

    let r = c.get(o.url("/obj/5")).header("range", "bytes=0-1,20-21").send().await.unwrap();
    assert_eq!(r.status(), 206);
    let ct = header(&r, "content-type");
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").expect("multipart").to_string();
    let body = r.bytes().await.unwrap();
    let parts: Vec<&[u8]> = split(&body, format!("--{boundary}").as_bytes());
    // Preamble, two parts, and the closing `--`.
    assert_eq!(parts.len(), 4, "{:?}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(parts[1]).contains(&format!("Content-Range: bytes 0-1/{len}")));
    assert!(parts[1].ends_with(&[b"\r\n\r\n".as_slice(), &full[0..2], b"\r\n"].concat()));
    assert!(parts[2].ends_with(&[&full[20..22], b"\r\n".as_slice()].concat()));

    let r = c.get(o.url("/obj/5")).header("range", format!("bytes={len}-")).send().await.unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), format!("bytes */{len}"));
    // If-Range with an old ETag: the whole body.
    let r = c.get(o.url("/obj/5")).header("range", "bytes=0-0").header("if-range", "\"o5-v0-0\"").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(o.stats().partial, 4);
}

fn split<'a>(hay: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= hay.len() {
        if &hay[i..i + sep.len()] == sep {
            out.push(&hay[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&hay[start..]);
    out
}

#[tokio::test]
async fn head_has_the_get_headers_and_no_body() {
    let o = start().await;
    let c = client();
    let g = c.get(o.url("/obj/9")).send().await.unwrap();
    let h = c.head(o.url("/obj/9")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    for name in ["etag", "content-length", "content-digest", "content-type", "cache-control", "surrogate-key"] {
        assert_eq!(header(&h, name), header(&g, name), "{name}");
    }
    assert!(h.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn echo_accepts_unsafe_methods_and_changes_the_resource() {
    let o = start().await;
    let c = client();
    let g1 = c.get(o.url("/echo/a")).send().await.unwrap();
    assert_eq!(g1.status(), 200);
    let etag1 = header(&g1, "etag");
    assert_eq!(g1.text().await.unwrap(), "echo /echo/a v1\n");
    for m in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE] {
        let r = c.request(m.clone(), o.url("/echo/a")).body("12345").send().await.unwrap();
        assert_eq!(r.status(), 200, "{m}");
        assert_eq!(header(&r, "cache-control"), "no-store");
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(j["method"], m.as_str());
        assert_eq!(j["received"], 5);
    }
    let g2 = c.get(o.url("/echo/a")).send().await.unwrap();
    assert_ne!(header(&g2, "etag"), etag1);
    assert_eq!(g2.text().await.unwrap(), "echo /echo/a v5\n");
    let r = c.request(reqwest::Method::OPTIONS, o.url("/echo/a")).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn a_catalog_with_giant_objects_is_refused_at_start() {
    let mut cfg = crate::util::config();
    cfg.catalog.size.max = world::ByteSize(origin::MAX_OBJECT_SIZE + 1);
    let e = cfg.validate().unwrap_err();
    assert!(e.to_string().contains("catalog.size.max"), "{e}");
}

#[tokio::test]
async fn trace_objects_have_the_size_in_their_path_and_verifiable_bodies() {
    let o = start().await;
    let c = client();
    let r = c.get(o.url("/t/18446744073709551615/1234")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (etag, cd, keys) = (header(&r, "etag"), header(&r, "content-digest"), header(&r, "surrogate-key"));
    assert!(etag.starts_with("\"t18446744073709551615-v1-"), "{etag}");
    assert!(keys.starts_with("t-18446744073709551615"), "{keys}");
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), 1234);
    assert_eq!(cd, digest(&body));
    assert_eq!(body, origin::catalog::generate_trace(u64::MAX, 1234, 1).body);
    // the same key at another size is another object
    let other = c.get(o.url("/t/18446744073709551615/99")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(other.len(), 99);
    // a conditional GET is answered from the ETag alone
    let nm = c.get(o.url("/t/18446744073709551615/1234")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(nm.status(), 304);
    // HEAD, and what is not a trace object
    let h = c.head(o.url("/t/5/77")).send().await.unwrap();
    assert_eq!((h.status().as_u16(), header(&h, "content-length")), (200, "77".to_string()));
    for bad in ["/t/5/0", "/t/5/33554433", "/t/05/7", "/t/5", "/t/x/7", "/t/5/7/8"] {
        assert_eq!(c.get(o.url(bad)).send().await.unwrap().status(), 404, "{bad}");
    }
    assert_eq!(c.post(o.url("/t/5/7")).send().await.unwrap().status(), 405);
}
