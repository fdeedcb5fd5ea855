//! The Grafana dashboard and Prometheus config in docs/grafana/ against the
//! real thing: every metric a panel queries, with the labels it selects on,
//! is served by the real components' `/metrics` (a `cdn up` of the demo
//! world on addresses of its own); the scrape config names exactly the demo
//! world's admin addresses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;

fn docs(file: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/grafana").join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Metric name → label names seen on its samples.
fn exposed(text: &str, into: &mut BTreeMap<String, BTreeSet<String>>) {
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name_end = line.find(['{', ' ']).unwrap();
        let labels = into.entry(line[..name_end].to_string()).or_default();
        if let Some(inner) = line[name_end..].strip_prefix('{').and_then(|r| r.split('}').next()) {
            for kv in inner.split(',').filter(|s| !s.is_empty()) {
                labels.insert(kv.split('=').next().unwrap().to_string());
            }
        }
    }
}

/// Every `cdnlab_…{…}` selector in the queries: name and the label names it matches on.
fn queried(json: &serde_json::Value, out: &mut Vec<(String, Vec<String>)>) {
    match json {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::String(e)) = m.get("expr") {
                let mut rest = e.as_str();
                while let Some(i) = rest.find("cdnlab_") {
                    rest = &rest[i..];
                    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                    let name = rest[..end].to_string();
                    rest = &rest[end..];
                    let mut labels = Vec::new();
                    if let Some(sel) = rest.strip_prefix('{') {
                        let inner = sel.split('}').next().unwrap();
                        for m in inner.split(',') {
                            let key = m.split(['=', '!']).next().unwrap().trim();
                            labels.push(key.to_string());
                        }
                    }
                    out.push((name, labels));
                }
            }
            m.values().for_each(|v| queried(v, out));
        }
        serde_json::Value::Array(v) => v.iter().for_each(|v| queried(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_metric_the_grafana_dashboard_queries_is_served() {
    let dashboard: serde_json::Value = serde_json::from_str(&docs("cdnlab.json")).unwrap();
    let mut wanted = Vec::new();
    queried(&dashboard, &mut wanted);
    assert!(wanted.len() > 20, "{wanted:?}");

    let dir = tempfile::tempdir().unwrap();
    let slot = common::Slot::claim();
    let wf = common::test_world(dir.path(), &slot);
    let w = world::World::load(&wf).unwrap();
    let mut up = Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(["up", "--quiet", "--no-dashboard", "--world"])
        .arg(&wf)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Read its output to the end (a closed pipe would kill it), telling us when it is up.
    let out = BufReader::new(up.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if line.contains("Ctrl-C stops everything") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(4 * tests::PATIENCE).expect("cdn up came up");
    let c = reqwest::Client::builder().no_proxy().timeout(tests::PATIENCE).build().unwrap();
    let get = |url: String| {
        let c = c.clone();
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    // Some traffic, so that every outcome's series exists.
    for e in &w.edges {
        get(format!("http://{}/obj/1", e.listen)).await;
    }
    // And one DNS answer, so that the answers by client region exist.
    let sock = tokio::net::UdpSocket::bind("127.2.0.9:0").await.unwrap();
    let mut m = hickory_proto::op::Message::query();
    m.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii(&w.geodns.zone).unwrap(),
        hickory_proto::rr::RecordType::A,
    ));
    sock.send_to(&m.to_vec().unwrap(), w.geodns.dns).await.unwrap();
    let mut buf = [0u8; 512];
    tokio::time::timeout(tests::PATIENCE, sock.recv_from(&mut buf)).await.unwrap().unwrap();
    let mut seen = BTreeMap::new();
    exposed(&get(format!("http://{}/metrics", w.edges[0].admin)).await, &mut seen);
    exposed(&get(format!("http://{}/metrics", w.origin.admin)).await, &mut seen);
    exposed(&get(format!("http://{}/metrics", w.geodns.http)).await, &mut seen);
    let pid = nix::unistd::Pid::from_raw(up.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    up.wait().unwrap();

    for (name, labels) in &wanted {
        let Some(have) = seen.get(name) else { panic!("the dashboard queries {name}, which no component serves") };
        for l in labels {
            assert!(have.contains(l), "{name} has no label `{l}` (it has {have:?})");
        }
    }
}

#[test]
fn the_scrape_config_names_the_demo_worlds_admin_addresses() {
    let cfg = docs("prometheus.yml");
    let w = world::World::demo().unwrap();
    let mut want: Vec<String> = w.edges.iter().map(|e| e.admin.to_string()).collect();
    want.push(w.origin.admin.to_string());
    want.push(w.geodns.http.to_string());
    let mut found: Vec<String> =
        cfg.split('"').filter(|s| s.starts_with("127.") && s.contains(':')).map(str::to_string).collect();
    found.sort();
    want.sort();
    assert_eq!(found, want);
}

/// The measures the live page shows (docs/dashboard.md, "What is on the
/// page"), each with the metric that carries it at the components'
/// `/metrics`: the Grafana dashboard has a panel querying every one of
/// them (issue 18: "panels for the same measures").
#[test]
fn the_grafana_dashboard_has_a_panel_for_every_measure_of_the_live_page() {
    let measures = [
        ("requests/s per edge", "cdnlab_edge_requests_total"),
        ("byte hit ratio", "cdnlab_edge_response_body_bytes_total"),
        ("bytes out", "cdnlab_edge_client_bytes_sent_total"),
        ("origin fetches", "cdnlab_edge_origin_requests_total"),
        ("origin errors (your own origin's health)", "cdnlab_edge_origin_errors_total"),
        ("origin requests/s", "cdnlab_origin_requests_total"),
        ("latency", "cdnlab_edge_request_duration_seconds"),
        ("memory use", "cdnlab_edge_cache_bytes"),
        ("dollars with the CDN", "cdnlab_edge_cost_dollars_total"),
        ("dollars without the CDN", "cdnlab_edge_without_cdn_dollars_total"),
        ("edge health (GeoDNS's view)", "cdnlab_geodns_edge_up"),
        ("GeoDNS answers by client region and edge", "cdnlab_geodns_dns_answers_by_region_total"),
    ];
    let dashboard: serde_json::Value = serde_json::from_str(&docs("cdnlab.json")).unwrap();
    let mut wanted = Vec::new();
    queried(&dashboard, &mut wanted);
    let names: BTreeSet<&str> = wanted.iter().map(|(n, _)| n.strip_suffix("_bucket").unwrap_or(n)).collect();
    let missing: Vec<_> = measures.iter().filter(|(_, m)| !names.contains(m)).collect();
    assert!(missing.is_empty(), "no Grafana panel queries {missing:?}");
}
