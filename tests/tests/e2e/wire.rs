//! The public listener on the wire: hits answered from the request bytes,
//! pipelining, split reads, and the hand-over to the full path for
//! everything else on the same connection.

use tests::{Reply, ScriptedOrigin, TestEdge, client, eventually, start_edge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads `n` HTTP responses (with Content-Length bodies) from `s`, and
/// checks that nothing read came after them: ask for every response sent
/// so far.
async fn responses(s: &mut TcpStream, n: usize, head_only: bool) -> Vec<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    while out.len() < n {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let body_len = if head_only { 0 } else { len };
            if buf.len() >= end + 4 + body_len {
                let body = buf[end + 4..end + 4 + body_len].to_vec();
                buf.drain(..end + 4 + body_len);
                out.push((head, body));
                continue;
            }
        }
        let k = tokio::time::timeout(tests::PATIENCE, s.read(&mut chunk)).await.expect("response in time").unwrap();
        assert!(k > 0, "connection closed after {} responses", out.len());
        buf.extend_from_slice(&chunk[..k]);
    }
    assert!(buf.is_empty(), "{} bytes after {n} responses: {:?}", buf.len(), String::from_utf8_lossy(&buf));
    out
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// An origin serving `body` at `path` (fresh for a minute) and an edge in
/// front of it that stored `path` on one GET.
async fn edge_with_hit(path: &str, body: &'static str) -> (ScriptedOrigin, TestEdge) {
    let o = ScriptedOrigin::start().await;
    o.set(path, Reply::ok(body).cc("max-age=60"));
    let e = start_edge(o.addr, |_| {}).await;
    let r = client().get(e.url(path)).send().await.unwrap();
    let cs = r.headers().get("cache-status").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(cs.contains("stored"), "{path} warmed: {cs}");
    (o, e)
}

#[tokio::test]
async fn pipelined_hits_and_a_miss_on_one_connection_come_back_in_order() {
    let (o, e) = edge_with_hit("/a", "alpha").await;
    o.set("/b", Reply::ok("bravo").cc("max-age=60")); // /a cached, /b not
    let mut s = TcpStream::connect(e.handle.public).await.unwrap();
    let batch = format!("{}{}{}{}", get("/a"), get("/a"), get("/b"), get("/a"));
    s.write_all(batch.as_bytes()).await.unwrap();
    let r = responses(&mut s, 4, false).await;
    let bodies: Vec<&[u8]> = r.iter().map(|x| x.1.as_slice()).collect();
    assert_eq!(bodies, [&b"alpha"[..], b"alpha", b"bravo", b"alpha"]);
    assert!(r[0].0.contains("cache-status: edge-test; hit;"), "{}", r[0].0);
    assert!(r[2].0.contains("fwd=uri-miss"), "{}", r[2].0);
    // the connection now runs through the full path, and keeps working
    s.write_all(get("/b").as_bytes()).await.unwrap();
    let r = responses(&mut s, 1, false).await;
    assert_eq!(r[0].1, b"bravo");
    assert!(r[0].0.contains("; hit;"));
}

#[tokio::test]
async fn a_request_split_across_writes_is_answered() {
    let (_o, e) = edge_with_hit("/s", "split").await;
    let mut s = TcpStream::connect(e.handle.public).await.unwrap();
    s.set_nodelay(true).unwrap();
    // Each piece is read by the edge before the next is sent.
    let mut read = e.handle.stats().bytes_from_clients;
    for part in ["GE", "T /s HT", "TP/1.1\r\nHo", "st: t\r\n", "\r\n"] {
        s.write_all(part.as_bytes()).await.unwrap();
        read += part.len() as u64;
        eventually("the edge to read the piece", || async { e.handle.stats().bytes_from_clients == read }).await;
    }
    let r = responses(&mut s, 1, false).await;
    assert_eq!(r[0].1, b"split");
    assert!(r[0].0.starts_with("HTTP/1.1 200 OK"), "{}", r[0].0);
}

#[tokio::test]
async fn head_hits_carry_the_length_but_no_body() {
    let (_o, e) = edge_with_hit("/h", "0123456789").await;
    let mut s = TcpStream::connect(e.handle.public).await.unwrap();
    s.write_all(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let r = responses(&mut s, 1, true).await;
    assert!(r[0].0.starts_with("HTTP/1.1 200 OK"), "{}", r[0].0);
    assert!(r[0].0.contains("content-length: 10") && r[0].0.contains("; hit;"), "{}", r[0].0);
    // A body after the HEAD's head would be read either with it (and left
    // over in `responses`) or in front of the next response.
    s.write_all(get("/h").as_bytes()).await.unwrap();
    let r = responses(&mut s, 1, false).await;
    assert!(r[0].0.starts_with("HTTP/1.1 200 OK"), "the HEAD left no stray body bytes: {}", r[0].0);
    assert_eq!(r[0].1, b"0123456789");
}

#[tokio::test]
async fn connection_close_and_http_1_0_go_through_the_full_path() {
    let (_o, e) = edge_with_hit("/c", "close").await;
    // Only hyper writes these: `connection: close` to a request that asked
    // for it, and an HTTP/1.0 status line to an HTTP/1.0 request. The raw
    // path (edge/src/conn.rs) writes the entry's prebuilt head, which
    // starts `HTTP/1.1` and has no `connection` field, as a plain GET shows.
    let mut s = TcpStream::connect(e.handle.public).await.unwrap();
    s.write_all(get("/c").as_bytes()).await.unwrap();
    let plain = responses(&mut s, 1, false).await.remove(0).0;
    assert!(plain.starts_with("HTTP/1.1 200 OK\r\n") && plain.contains("; hit;"), "{plain}");
    assert!(!plain.to_ascii_lowercase().contains("\r\nconnection:"), "{plain}");
    for (req, only_hyper) in [
        ("GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "\r\nconnection: close\r\n"),
        ("GET /c HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\n"),
    ] {
        let mut s = TcpStream::connect(e.handle.public).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut all = Vec::new();
        tokio::time::timeout(tests::PATIENCE, s.read_to_end(&mut all)).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("; hit;") && text.ends_with("close"), "{req:?}: {text}");
        assert!(text.contains(only_hyper), "{req:?} answered by hyper: {text}");
    }
}
