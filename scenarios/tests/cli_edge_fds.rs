//! The real `cdn edge` under a small open-file limit (`ulimit -n 64`): by
//! default it refuses connections beyond half the limit with a 503 before
//! it runs out of descriptors, and when told to accept more than it can
//! (`--max-connections 1000`) the failing `accept` is logged once, not once
//! per retry (defect 6 of issue 12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Starts `cdn edge` with `ulimit -n 64` and `extra` flags; returns the
/// child (stderr piped) and its public address.
async fn edge(dir: &std::path::Path, extra: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_cdn"))
        .args(["edge", "--origin", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--memory", "8MiB", "--disk", "0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env(runtime::shutdown::EXIT_WITH_PARENT_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(a) = l.split_whitespace().find_map(|w| w.strip_prefix("public=")) {
                return Some(a.parse::<SocketAddr>().unwrap());
            }
        }
        None
    })
    .await;
    let addr = ready.ok().flatten().expect("edge child came up");
    (child, addr)
}

#[tokio::test]
async fn at_a_small_fd_limit_the_edge_refuses_with_a_503_and_logs_accept_failures_once() {
    let dir = tempfile::tempdir().unwrap();

    // Default limit: half of 64. The connections past it are answered 503.
    let (_child, addr) = edge(&dir.path().join("a"), &[]).await;
    let mut conns = Vec::new();
    for _ in 0..40 {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    let reads = conns.into_iter().map(|mut c| {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 512];
            match tokio::time::timeout(Duration::from_millis(500), c.read(&mut buf)).await {
                Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
                _ => None, // served: waiting for a request
            }
        })
    });
    let mut refused = 0;
    for r in reads.collect::<Vec<_>>() {
        if let Some(text) = r.await.unwrap() {
            assert!(text.starts_with("HTTP/1.1 503") && text.contains("limit of 32 connections"), "{text}");
            refused += 1;
        }
    }
    assert_eq!(refused, 8, "40 connections, 32 served");

    // Told to take more than it has descriptors for: accept fails (EMFILE)
    // every 20 ms while the connections stay open; one line says so.
    let (mut child, addr) = edge(&dir.path().join("b"), &["--max-connections", "1000"]).await;
    let mut conns = Vec::new();
    for _ in 0..80 {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.start_kill().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).await.unwrap();
    let lines = err.lines().filter(|l| l.contains("accept failed")).count();
    assert_eq!(lines, 1, "one accept-failure line in 2 s of failures:\n{err}");
    drop(conns);
}
