//! `cdn up` of a world with a PoP, with the real binary: the balancer
//! answers on the PoP's public address and hands the request to a node;
//! the PoP asks the origin once per key; `cdn purge` reaches every node
//! (after a bump and a purge, no node serves the old version); `cdn
//! stats` shows the per-node table; `cdn up` stops with no child left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Slot, processes_with, test_world, wait_for_up};
use tests::PATIENCE;

const TOKEN: &str = "cdnlab-demo-token";

fn cdn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cdn"))
}

/// `cdn up`, killed when dropped (its children exit when it dies).
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The slot's demo world with Seoul a hashed PoP of three nodes.
fn pop_world(dir: &Path, slot: &Slot) -> std::path::PathBuf {
    let p = test_world(dir, slot);
    let text = std::fs::read_to_string(&p).unwrap();
    let seoul = "name = \"seoul\"\nregion = \"seoul\"\n";
    assert!(text.contains(seoul), "the demo world's seoul edge changed");
    let pop = "pop = { nodes = 3, policy = \"hash\", health = { interval = \"1s\", timeout = \"10s\", fall = 2, rise = 1 } }\n";
    std::fs::write(&p, text.replacen(seoul, &format!("{seoul}{pop}"), 1)).unwrap();
    p
}

/// A GET on a new connection: (status, Cache-Status, ETag), body read whole.
fn get(rt: &tokio::runtime::Runtime, url: &str) -> (u16, String, String) {
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c.get(url).send().await.unwrap();
        let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let (status, cs, etag) = (r.status().as_u16(), h("cache-status"), h("etag"));
        let _ = r.bytes().await;
        (status, cs, etag)
    })
}

/// The origin's count of requests for `path`.
fn origin_requests(rt: &tokio::runtime::Runtime, admin: &str, path: &str) -> u64 {
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let v: serde_json::Value =
            c.get(format!("http://{admin}/stats/path?path={path}")).send().await.unwrap().json().await.unwrap();
        v["requests"].as_u64().unwrap()
    })
}

#[test]
fn up_runs_a_pop_behind_its_balancer_purges_every_node_and_stops_clean() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = pop_world(dir.path(), &slot);
    let w = world::World::load(&world).unwrap();
    let nodes = world::pop::nodes_of(w.edge("seoul").unwrap());
    let mut up = Up(cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::piped()).spawn().unwrap());
    wait_for_up(&mut up.0);
    let needle = world.display().to_string();
    assert_eq!(processes_with(&needle).len(), 9, "cdn up, origin, tokyo, newyork, 3 nodes, balancer, geodns");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let admin = w.origin.admin.to_string();
    let public = w.edge("seoul").unwrap().listen;
    let mut answered_by = std::collections::BTreeSet::new();
    for k in 1..=4 {
        let path = format!("/obj/{k}");
        // Each GET a new connection: the balancer hands them round the nodes.
        for _ in 0..6 {
            let (status, cs, _) = get(&rt, &format!("http://{public}{path}"));
            assert_eq!(status, 200, "{cs}");
            let last = cs.rsplit(", ").next().unwrap();
            let node = last.split(';').next().unwrap().trim_start_matches("edge-").to_string();
            assert!(nodes.iter().any(|n| n.name == node), "answered by a node of the PoP: {cs}");
            answered_by.insert(node);
        }
        assert_eq!(origin_requests(&rt, &admin, &path), 1, "{path}: one origin fetch across the PoP");
    }
    assert_eq!(answered_by.len(), 3, "the balancer reached every node: {answered_by:?}");

    // A new version at the origin, then a purge: no node serves the old one.
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c
            .post(format!("http://{admin}/bump"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "path": "/obj/2" }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    });
    let out = cdn().arg("purge").arg("--world").arg(&world).args(["--url", "/obj/2"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for n in &nodes {
        for _ in 0..2 {
            let (status, cs, etag) = get(&rt, &format!("http://{}/obj/2", n.listen));
            assert_eq!(status, 200, "{cs}");
            assert!(etag.contains("-v2-"), "{}: the new version after the purge, not {etag} ({cs})", n.name);
        }
    }
    assert_eq!(origin_requests(&rt, &admin, "/obj/2"), 2, "refilled once across the PoP");

    let stats = cdn().arg("stats").arg("--world").arg(&world).output().unwrap();
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    assert!(text.contains("PoP seoul (hash, 3 nodes"), "{text}");
    for n in &nodes {
        assert!(text.lines().any(|l| l.trim_start().starts_with(&n.name)), "{} in the node table: {text}", n.name);
    }

    let pid = nix::unistd::Pid::from_raw(up.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(up.0.wait().unwrap().success());
    let deadline = Instant::now() + PATIENCE;
    while !processes_with(&needle).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_with(&needle), Vec::<u32>::new(), "children left behind");
}
