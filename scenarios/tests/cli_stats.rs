//! `cdn stats` with the real binary against an origin and three edges run
//! in this process: a known traffic mix gives the expected totals, in the
//! table and in `--json`; with nothing running it says so and fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use world::Money;

const GB: i128 = 1 << 30;

/// A world with objects of exactly 20 KiB and tiny volume tiers, so a few
/// requests cross a tier boundary.
/// Edge data (and the admin tokens edges generate there) go under `data`,
/// a temporary directory, never into the source tree.
fn world_text(origin: (SocketAddr, SocketAddr), edges: &[(SocketAddr, SocketAddr)], data: &Path) -> String {
    let mut t = format!(
        r#"
name = "stats-test"

[[region]]
name = "seoul"
city = "Seoul"
lat = 37.5665
lon = 126.9780
clients = "127.1.0.0/16"
prices = {{ egress = [{{ up_to = "30KiB", usd_per_gb = 0.20 }}, {{ usd_per_gb = 0.15 }}] }}

[[region]]
name = "tokyo"
city = "Tokyo"
lat = 35.6762
lon = 139.6503
clients = "127.2.0.0/16"

[[region]]
name = "newyork"
city = "New York"
lat = 40.7128
lon = -74.0060
clients = "127.3.0.0/16"

[latency]
same_region = "2ms"
rtt = [
  {{ between = ["seoul", "tokyo"], ms = 30 }},
  {{ between = ["seoul", "newyork"], ms = 185 }},
  {{ between = ["tokyo", "newyork"], ms = 162 }},
]

[origin]
region = "newyork"
listen = "{}"
admin = "{}"

[catalog]
objects = 100
size = {{ median = "20KiB", sigma = 0.0, min = "1KiB", max = "64KiB" }}

[edge_defaults]
memory = "8MiB"
disk = 0
data_dir = "{}/{{world}}/{{edge}}"

[prices]
egress = [{{ up_to = "50KiB", usd_per_gb = 0.12 }}, {{ usd_per_gb = 0.10 }}]
requests_usd_per_10k = 0.01
origin_egress = [{{ up_to = "50KiB", usd_per_gb = 0.09 }}, {{ usd_per_gb = 0.05 }}]
fill_usd_per_gb = 0.02
"#,
        origin.0,
        origin.1,
        data.display()
    );
    for ((name, region), (public, admin)) in
        [("seoul", "seoul"), ("tokyo", "tokyo"), ("newyork", "newyork")].iter().zip(edges)
    {
        t.push_str(&format!(
            "\n[[edge]]\nname = \"{name}\"\nregion = \"{region}\"\nlisten = \"{public}\"\nadmin = \"{admin}\"\n"
        ));
        if *name == "seoul" {
            // One edge with a disk tier: `cdn stats` shows its tier counters.
            t.push_str("disk = \"8MiB\"\nmax_object = \"64KiB\"\n");
        }
    }
    t
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// One request on a fresh connection; every byte of the response.
async fn raw(addr: SocketAddr, method: &str, path: &str) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(tests::PATIENCE, s.read_to_end(&mut out)).await.unwrap().unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&out[..out.len().min(200)]));
    out
}

/// The test's own tiered price: (upper bound, nano-dollars per GB).
fn tiered(bytes: u64, tiers: &[(u64, i128)]) -> i128 {
    let (mut done, mut sum) = (0u64, 0i128);
    for &(end, price) in tiers {
        let here = bytes.min(end).saturating_sub(done);
        sum += here as i128 * price;
        done = done.max(end);
    }
    sum / GB
}

async fn cdn_stats(world: &Path, json: bool) -> std::process::Output {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdn"));
    c.arg("stats").arg("--world").arg(world).env_remove("CDNLAB_ADMIN_TOKEN");
    if json {
        c.arg("--json");
    }
    tokio::time::timeout(Duration::from_secs(30), c.output()).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_traffic_mix_gives_the_expected_totals() {
    let dir = tempfile::tempdir().unwrap();
    let (op, oa) = (listener().await, listener().await);
    let mut edge_listeners = Vec::new();
    for _ in 0..3 {
        edge_listeners.push((listener().await, listener().await));
    }
    let origin_addrs = (op.local_addr().unwrap(), oa.local_addr().unwrap());
    let edge_addrs: Vec<_> =
        edge_listeners.iter().map(|(p, a)| (p.local_addr().unwrap(), a.local_addr().unwrap())).collect();
    let path = dir.path().join("world.toml");
    std::fs::write(&path, world_text(origin_addrs, &edge_addrs, dir.path())).unwrap();
    let w = world::World::load(&path).unwrap();

    let (stop, stopped) = runtime::shutdown::channel();
    let mut oc = origin::Config::from_world(&w);
    oc.admin_token = None;
    tokio::spawn(origin::serve(oc, op, oa, stopped.clone()));
    for (e, (p, a)) in w.edges.iter().zip(edge_listeners) {
        let mut c = edge::Config::from_world(&w, &e.name).unwrap();
        c.rtt_to_origin = Duration::ZERO;
        c.admin_token = None;
        let edge = edge::Bound::on(c, p, a).await.unwrap();
        tokio::spawn(edge.serve(stopped.clone()));
    }

    // The mix: seoul 4 requests (2 hits), tokyo 3 (2 hits), newyork 1 miss,
    // and one client straight to the origin.
    let mix: [(usize, &str, &str); 8] = [
        (0, "GET", "/obj/1"),
        (0, "GET", "/obj/1"),
        (0, "GET", "/obj/2"),
        (0, "HEAD", "/obj/1"),
        (1, "GET", "/obj/1"),
        (1, "GET", "/obj/1"),
        (1, "GET", "/obj/1"),
        (2, "GET", "/obj/3"),
    ];
    let mut out = [0u64; 3];
    for (i, m, p) in mix {
        out[i] += raw(edge_addrs[i].0, m, p).await.len() as u64;
    }
    let direct = raw(origin_addrs.0, "GET", "/obj/9").await.len() as u64;

    // Fills as each edge counted them; together they are what the origin
    // sent, less what it sent the direct client. A socket counter is bumped
    // just after its write returns, so wait until every edge counted what
    // its client read and the origin what it wrote (or fail after
    // PATIENCE, showing the counts).
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let json = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let deadline = std::time::Instant::now() + tests::PATIENCE;
    let (fills, sent, origin_out) = loop {
        let mut fills = [0u64; 3];
        let mut sent = [0u64; 3];
        for (i, (_, admin)) in edge_addrs.iter().enumerate() {
            let s = json(format!("http://{admin}/stats")).await;
            fills[i] = s["bytes_from_origin"].as_u64().unwrap();
            sent[i] = s["bytes_to_clients"].as_u64().unwrap();
        }
        let origin_out = json(format!("http://{}/stats", origin_addrs.1)).await["bytes_out"].as_u64().unwrap();
        let settled = sent == out && fills.iter().sum::<u64>() + direct == origin_out;
        if settled || std::time::Instant::now() > deadline {
            break (fills, sent, origin_out);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(sent, out, "each edge counted what its client read");
    assert_eq!(fills.iter().sum::<u64>() + direct, origin_out);

    // Expected dollars, in nano-dollars.
    let seoul = [(30 << 10, 200_000_000), (u64::MAX, 150_000_000)];
    let rest = [(50 << 10, 120_000_000), (u64::MAX, 100_000_000)];
    let egress = [tiered(out[0], &seoul), tiered(out[1], &rest), tiered(out[2], &rest)];
    assert!(out[0] > 30 << 10 && out[1] > 50 << 10, "the mix crosses a tier in seoul and tokyo: {out:?}");
    let requests = [4i128, 3, 1].map(|n| n * 10_000_000 / 10_000);
    let fill: Vec<i128> = fills.iter().map(|f| *f as i128 * 20_000_000 / GB).collect();
    // The fills share the origin's tiers, in edge order; the direct bytes come after them.
    let origin_tiers = [(50 << 10, 90_000_000), (u64::MAX, 50_000_000)];
    let between = |a: u64, b: u64| tiered(b, &origin_tiers) - tiered(a, &origin_tiers);
    let at = [0, fills[0], fills[0] + fills[1], fills.iter().sum()];
    let origin_egress: Vec<i128> = (0..3).map(|i| between(at[i], at[i + 1])).collect();
    assert!(at[1] < 50 << 10 && at[2] > 50 << 10, "tokyo's fill crosses the origin's tier: {fills:?}");
    let edges_total: i128 = (0..3).map(|i| egress[i] + requests[i] + origin_egress[i] + fill[i]).sum();
    let direct_cost = between(at[3], at[3] + direct);
    let with_cdn = edges_total + direct_cost;
    let without = tiered(out.iter().sum::<u64>() + direct, &origin_tiers);
    let m = |n: i128| Money(n as i64);

    let r = cdn_stats(&path, true).await;
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let t = &j["total"];
    assert_eq!(t["requests"], 8);
    assert_eq!(t["hit_ratio"], 0.5);
    assert_eq!(t["bytes_to_clients"], out.iter().sum::<u64>());
    assert_eq!(t["bytes_from_origin"], fills.iter().sum::<u64>());
    assert_eq!(t["bill"]["cdn_egress"], m(egress.iter().sum()).to_decimal());
    assert_eq!(t["bill"]["requests"], m(requests.iter().sum()).to_decimal());
    assert_eq!(t["bill"]["origin_egress"], m(origin_egress.iter().sum()).to_decimal());
    assert_eq!(t["bill"]["fill"], m(fill.iter().sum()).to_decimal());
    assert_eq!(j["edges"][2]["bill"]["origin_egress"], m(origin_egress[2]).to_decimal(), "newyork after the others");
    assert_eq!(t["bill"]["total"], m(edges_total).to_decimal());
    assert_eq!(t["with_cdn"], m(with_cdn).to_decimal());
    assert_eq!(t["without_cdn"], m(without).to_decimal());
    assert_eq!(t["savings"], m(without - with_cdn).to_decimal());
    assert_eq!(j["origin"]["bytes_direct"], direct);
    assert_eq!(j["edges"][0]["bill"]["cdn_egress"], m(egress[0]).to_decimal(), "seoul's own tiers");
    assert_eq!(j["edges"][1]["hit_ratio"].as_f64().unwrap(), 2.0 / 3.0);
    // Modelled times (docs/network.md): without the CDN a cold fetch from
    // New York, 185 ms away: TCP and TLS handshakes, the request, the
    // response in slow start: three to five round trips for these sizes;
    // with it a cold fetch inside
    // Seoul (2 ms: at least 6 ms), plus that fetch from the origin for the
    // half that missed.
    let f = |k: &str| j["edges"][0][k].as_f64().unwrap();
    let (with_ms, without_ms) = (f("fetch_ms"), f("fetch_without_cdn_ms"));
    assert!((3.0 * 185.0..5.0 * 185.0).contains(&without_ms), "{}", j["edges"][0]);
    assert!((6.0..20.0).contains(&(with_ms - 0.5 * without_ms)), "{}", j["edges"][0]);
    // Hits by tier, for the one edge with a disk tier: its hits came from memory.
    let tiers = j["cache_tiers"].as_array().expect("a cache tiers table");
    assert_eq!(tiers.len(), 1, "a row per edge with a disk tier: {tiers:?}");
    let seoul = &j["edges"][0];
    let hits = (seoul["hit_ratio"].as_f64().unwrap() * seoul["requests"].as_f64().unwrap()).round() as u64;
    assert!(hits > 0, "{seoul}");
    let t = &tiers[0]["counts"];
    assert_eq!(tiers[0]["edge"], "seoul");
    assert_eq!(
        (t["memory_hits"].as_u64(), t["disk_hits"].as_u64(), t["promotions"].as_u64()),
        (Some(hits), Some(0), Some(0))
    );

    let r = cdn_stats(&path, false).await;
    assert!(r.status.success());
    let text = String::from_utf8(r.stdout).unwrap();
    let total_line = text.lines().find(|l| l.starts_with("total ")).expect("a total row");
    for want in ["8", "50.0%", &m(egress.iter().sum()).to_string(), &m(edges_total).to_string()] {
        assert!(total_line.contains(want), "`{want}` in {total_line}\n{text}");
    }
    assert!(text.contains(&format!("without {}", m(without))), "{text}");
    assert!(text.contains(&m(with_cdn).to_string()), "{text}");
    for name in ["seoul", "tokyo", "newyork"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} row\n{text}");
        // Its link to the origin: each fetch it sent, on a kept or a new connection.
        let link = text.lines().find(|l| l.trim_start().starts_with(&format!("{name} → origin"))).expect("a link row");
        let fetches =
            j["edges"].as_array().unwrap().iter().find(|e| e["edge"] == name).unwrap()["upstreams"][0]["requests"]
                .as_u64()
                .unwrap();
        assert!(fetches > 0 && link.split_whitespace().nth(3) == Some(&fetches.to_string()), "{link}\n{text}");
    }
    assert!(text.contains("Cache tiers") && text.contains("promotions"), "{text}");
    stop.stop();
}

#[tokio::test]
async fn with_nothing_running_it_says_which_edges_are_unreachable_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    // Ports held without listening: nobody answers, nobody else takes them.
    let held: Vec<_> = (0..8).map(|_| tests::net::reserve()).collect();
    let addrs: Vec<SocketAddr> = held.iter().map(|r| r.addr()).collect();
    let edges: Vec<_> = addrs[2..].chunks(2).map(|c| (c[0], c[1])).collect();
    let path = dir.path().join("world.toml");
    std::fs::write(&path, world_text((addrs[0], addrs[1]), &edges, dir.path())).unwrap();
    let r = cdn_stats(&path, false).await;
    assert!(!r.status.success());
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("seoul      unreachable:"), "{text}");
    assert!(String::from_utf8_lossy(&r.stderr).contains("no edge of world `stats-test` answered"));
}
