//! The real `cdn edge` under a small open-file limit (`ulimit -n 64`): by
//! default it refuses connections beyond half the limit with a 503 before
//! it runs out of descriptors, and when told to accept more than it can
//! (`--max-connections 1000`) the failing `accept` is logged once per
//! `ACCEPT_LOG_EVERY`, not once per retry (defect 6 of issue 12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Starts `cdn edge` with `ulimit -n 64` and `extra` flags; returns the
/// child (stderr piped) and its public and admin addresses.
async fn edge(dir: &std::path::Path, extra: &[&str]) -> (Child, SocketAddr, SocketAddr) {
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
    let ready = tokio::time::timeout(tests::PATIENCE, async {
        while let Some(l) = lines.next_line().await.unwrap() {
            let addr = |role| runtime::server::ready_addr(&l, role);
            if let (Some(public), Some(admin)) = (addr("public"), addr("admin")) {
                return Some((public, admin));
            }
        }
        None
    })
    .await;
    let (public, admin) = ready.ok().flatten().expect("edge child came up");
    (child, public, admin)
}

/// The edge's count of connections refused at its limit (`/stats`).
async fn refused(admin: SocketAddr) -> u64 {
    let url = format!("http://{admin}/stats");
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let s: serde_json::Value = c.get(url).send().await.unwrap().json().await.unwrap();
    s["client_connections_refused"].as_u64().unwrap()
}

#[tokio::test]
async fn at_a_small_fd_limit_the_edge_refuses_with_a_503_and_logs_accept_failures_once() {
    let dir = tempfile::tempdir().unwrap();

    // Default limit: half of 64. The connections past it are answered 503.
    let (_child, addr, admin) = edge(&dir.path().join("a"), &[]).await;
    let mut conns = Vec::new();
    for _ in 0..40 {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    // A refused connection gets its 503 and is closed; a served one waits
    // for a request. Read each until it says something or closes (a
    // refused one within moments), and stop once the edge counts as many
    // refusals as were read: the rest were served.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reads: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut all = Vec::new();
                let _ = c.read_to_end(&mut all).await;
                let _ = tx.send(String::from_utf8_lossy(&all).to_string());
            })
        })
        .collect();
    let mut answers = Vec::new();
    let deadline = tokio::time::Instant::now() + tests::PATIENCE;
    loop {
        while let Ok(a) = rx.try_recv() {
            if !a.is_empty() {
                answers.push(a); // a served connection closed silently is no refusal
            }
        }
        let counted = refused(admin).await;
        if counted > 0 && answers.len() as u64 == counted {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{counted} refusals counted, {} read: {answers:?}",
            answers.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for text in &answers {
        assert!(text.starts_with("HTTP/1.1 503") && text.contains("limit of 32 connections"), "{text}");
    }
    assert_eq!(answers.len(), 8, "40 connections, 32 served");
    assert_eq!(refused(admin).await, 8);
    reads.into_iter().for_each(|r| r.abort());

    // Told to take more than it has descriptors for: accept fails (EMFILE)
    // every 20 ms while the connections stay open (longer than the first
    // ten seconds: idle ones would be closed after 10 s by default). The
    // first failure is logged; the next line comes ACCEPT_LOG_EVERY later
    // and counts the failures held back meanwhile.
    let flags = ["--max-connections", "1000", "--idle-timeout", "120s", "--log-json"];
    let (mut child, addr, _) = edge(&dir.path().join("b"), &flags).await;
    let mut conns = Vec::new();
    for _ in 0..80 {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let accept_lines = tokio::time::timeout(runtime::serve::ACCEPT_LOG_EVERY + tests::PATIENCE, async {
        let mut found: Vec<serde_json::Value> = Vec::new();
        while found.len() < 2 {
            let Some(l) = err.next_line().await.unwrap() else { break };
            seen.push(l.clone());
            if l.contains("accept failed") {
                found.push(serde_json::from_str(&l).unwrap());
            }
        }
        found
    })
    .await
    .unwrap_or_else(|_| panic!("two accept-failure lines never came:\n{}", seen.join("\n")));
    child.start_kill().unwrap();
    drop(conns);
    assert_eq!(accept_lines.len(), 2, "{}", seen.join("\n"));
    let held = |v: &serde_json::Value| v["fields"]["held_back"].as_u64().unwrap();
    assert_eq!(held(&accept_lines[0]), 0);
    // About one failure every 20 ms for ten seconds, none with a line.
    assert!(held(&accept_lines[1]) >= 50, "failures between the two lines: {}", seen.join("\n"));
}
