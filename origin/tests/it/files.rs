//! Real files under a root: headers, conditionals, ranges, streaming of big
//! files, and every traversal attempt refused.

use std::path::Path;

use origin::{Bump, Config};

use crate::util::{client, config, digest, header, raw, start_with, status_of};

/// A root with a text file, an index page, a big file, and a symlink that
/// points outside; plus a secret next to the root.
fn tree() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("site")).unwrap();
    std::fs::write(root.join("hello.txt"), b"hello, world\n").unwrap();
    std::fs::write(root.join("site/index.html"), b"<h1>hi</h1>").unwrap();
    std::fs::write(root.join(".hidden"), b"no").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"secret").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("escape.txt")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("hello.txt"), root.join("inside.txt")).unwrap();
    (dir, big)
}

fn files_config(root: &Path) -> Config {
    // Stream anything over 64 KiB, so big.bin takes the streaming path.
    Config { root: Some(root.to_path_buf()), stream_threshold: 64 * 1024, ..config() }
}

#[tokio::test]
async fn files_are_served_with_validators_and_digest() {
    let (dir, _) = tree();
    let o = start_with(files_config(&dir.path().join("root"))).await;
    let c = client();
    let r = c.get(o.url("/hello.txt")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(header(&r, "cache-control"), "public, max-age=3600", "from the `/` catalog rule");
    let mtime = std::fs::metadata(dir.path().join("root/hello.txt")).unwrap().modified().unwrap();
    assert_eq!(header(&r, "last-modified"), world::clock::httpdate_fmt(mtime));
    assert_eq!(header(&r, "content-digest"), digest(b"hello, world\n"));
    let etag = header(&r, "etag");
    assert!(etag.starts_with("\"f") && etag.ends_with("-v1\""), "{etag}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello, world\n");

    let nm = c.get(o.url("/hello.txt")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(nm.status(), 304);
    let part = c.get(o.url("/hello.txt")).header("range", "bytes=0-4").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"hello");
    let idx = c.get(o.url("/site/")).send().await.unwrap();
    assert_eq!(header(&idx, "content-type"), "text/html; charset=utf-8");
    assert_eq!(idx.text().await.unwrap(), "<h1>hi</h1>");
    // A symlink that stays inside the root is fine.
    assert_eq!(c.get(o.url("/inside.txt")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(o.url("/missing.txt")).send().await.unwrap().status(), 404);
    assert_eq!(c.post(o.url("/hello.txt")).send().await.unwrap().status(), 405);

    // A bump changes a file's validators (as `touch` would), not its bytes.
    o.bump(Bump::Path("/hello.txt".into())).unwrap();
    let r = c.get(o.url("/hello.txt")).send().await.unwrap();
    assert!(header(&r, "etag").ends_with("-v2\""));
    assert_ne!(header(&r, "etag"), etag);
}

#[tokio::test]
async fn big_files_stream_whole_and_in_ranges() {
    let (dir, big) = tree();
    let o = start_with(files_config(&dir.path().join("root"))).await;
    let c = client();
    let r = c.get(o.url("/big.bin")).send().await.unwrap();
    assert_eq!(header(&r, "content-length"), big.len().to_string());
    assert_eq!(header(&r, "content-digest"), digest(&big));
    assert_eq!(r.bytes().await.unwrap().as_ref(), big.as_slice());

    let r = c.get(o.url("/big.bin")).header("range", "bytes=100000-200000").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &big[100_000..=200_000]);

    let r = c.get(o.url("/big.bin")).header("range", "bytes=0-9,-10").send().await.unwrap();
    assert_eq!(r.status(), 206);
    let len: usize = header(&r, "content-length").parse().unwrap();
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), len);
    assert!(body.windows(10).any(|w| w == &big[big.len() - 10..]));

    let h = c.head(o.url("/big.bin")).send().await.unwrap();
    assert_eq!(header(&h, "content-length"), big.len().to_string());
    assert!(h.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn traversal_attempts_are_refused() {
    let (dir, _) = tree();
    let o = start_with(files_config(&dir.path().join("root"))).await;
    // Raw requests: an HTTP client would normalise these paths away.
    for target in [
        "/../secret.txt",
        "/site/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/site/%2e%2e/%2e%2e/secret.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/a%5c..%5csecret.txt",
        "/hello.txt%00.html",
        "/./hello.txt",
    ] {
        let resp = raw(o.public, &format!("GET {target} HTTP/1.1")).await;
        assert_eq!(status_of(&resp), 400, "{target}: {resp}");
        assert!(!resp.contains("secret"), "{target} leaked: {resp}");
    }
    // A backslash is not even valid in a request target: hyper refuses it.
    let resp = raw(o.public, "GET /a\\..\\secret.txt HTTP/1.1").await;
    assert_eq!(status_of(&resp), 400, "{resp}");
    // A symlink out of the root, and dotfiles, do not exist.
    for target in ["/escape.txt", "/.hidden"] {
        let resp = raw(o.public, &format!("GET {target} HTTP/1.1")).await;
        assert_eq!(status_of(&resp), 404, "{target}: {resp}");
        assert!(!resp.contains("secret"));
    }
}

#[tokio::test]
async fn a_missing_root_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = files_config(&dir.path().join("nope"));
    assert!(cfg.validate().is_err());
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    assert!(origin::spawn(cfg, any, any).await.is_err());
}
