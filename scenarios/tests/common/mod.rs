//! Helpers shared by the tests of the real `cdn` binary.
#![allow(dead_code)]

use std::path::Path;

/// A copy of the demo world on addresses of its own (127.<base>.k.1) and a
/// data directory in `dir`, so the test neither collides with a running
/// `cdn up` nor leaves files behind.
pub fn test_world(dir: &Path, base: u8) -> std::path::PathBuf {
    let text = world::load::DEMO_TEXT
        .replace("127.0.0.1:8080", &format!("127.{base}.0.1:8080"))
        .replace("127.0.0.1:9080", &format!("127.{base}.0.1:9080"))
        .replace("127.0.0.1:1053", &format!("127.{base}.0.1:1053"))
        .replace("127.0.0.1:8053", &format!("127.{base}.0.1:8053"))
        .replace("127.0.0.1:8060", &format!("127.{base}.0.1:8060"))
        .replace("127.1.0.1:", &format!("127.{base}.1.1:"))
        .replace("127.2.0.1:", &format!("127.{base}.2.1:"))
        .replace("127.3.0.1:", &format!("127.{base}.3.1:"))
        .replace("data/{world}/{edge}", &format!("{}/{{edge}}", dir.display()));
    let p = dir.join("world.toml");
    std::fs::write(&p, text).unwrap();
    p
}
