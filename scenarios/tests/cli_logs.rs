//! Log lines of a real binary whose stderr is a pipe (as under `cdn up`,
//! or `2> file`) carry no ANSI colour codes: only a terminal gets colour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(["edge", "--origin", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--memory", "8MiB", "--disk", "0", "--data-dir"])
        .arg(dir.path())
        .env(runtime::shutdown::EXIT_WITH_PARENT_ENV, "1")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.starts_with("cdnlab-ready ") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the edge came up");
    // Closing stdin stops it (its parent is gone); then stderr ends.
    drop(child.stdin.take());
    let mut err = String::new();
    let mut stderr = child.stderr.take().unwrap();
    let read = stderr.read_to_string(&mut err);
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("the edge stopped").unwrap();
    assert!(err.contains("edge starting"), "its log:\n{err}");
    assert!(!err.contains('\u{1b}'), "colour codes in a piped log:\n{err:?}");
}
