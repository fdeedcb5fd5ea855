//! The bus against a real nats-server (skipped, loudly, where it is not
//! installed and `CI` is not set; see `bus::testing`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bus::members::{Member, Membership};
use bus::purge::{NodeFeed, PurgeAck, PurgeLog};
use bus::{Bus, ConnectOptions};

async fn connect(url: &str, who: &str) -> Bus {
    Bus::connect(url, "t", who, &ConnectOptions::default()).await.unwrap()
}

/// A node that applies (records) every purge of its feed and acknowledges it.
fn node(bus: Bus, name: &'static str) -> tokio::task::JoinHandle<Vec<u64>> {
    tokio::spawn(async move {
        let (mut feed, b) = NodeFeed::bind(&bus, name, None).await.unwrap();
        assert!(b.lost.is_none(), "{b:?}");
        let mut seen = Vec::new();
        loop {
            let batch = feed.next_batch(100, Duration::from_millis(200)).await.unwrap();
            let seqs: Vec<u64> = batch.purges.iter().map(|p| p.seq).collect();
            feed.done(batch).await.unwrap();
            for s in seqs {
                seen.push(s);
                let ack = PurgeAck { node: name.into(), seq: s, ok: true, detail: serde_json::json!({"objects": 1}) };
                feed.acknowledge(&ack).await.unwrap();
            }
            if seen.len() >= 3 {
                return seen;
            }
        }
    })
}

#[tokio::test]
async fn a_purge_reaches_every_node_and_the_publisher_gathers_their_acknowledgements() {
    let Some(srv) = bus::testing::server("bus::purge_gathering").await else { return };
    let names = ["a", "b", "c"];
    let mut tasks = Vec::new();
    for n in names {
        tasks.push(node(connect(&srv.url(), n).await, n));
    }
    let publisher = connect(&srv.url(), "cli").await;
    let log = PurgeLog::open(&publisher).await.unwrap();
    // The nodes bind in their tasks: wait until all three consumers exist.
    let expect: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    for i in 1..=3u64 {
        let g = log
            .publish_gathering(format!("{{\"url\":\"/obj/{i}\"}}").into(), &expect, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(g.seq, i, "the stream numbers purges world-wide");
        assert!(g.missing.is_empty(), "purge {i}: not acknowledged by {:?}", g.missing);
        let mut acked: Vec<&str> = g.acks.iter().map(|a| a.ack.node.as_str()).collect();
        acked.sort();
        assert_eq!(acked, names);
        assert!(g.acks.iter().all(|a| a.ack.seq == i && a.ack.ok));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), vec![1, 2, 3], "each node applies every purge, in order");
    }
}

#[tokio::test]
async fn a_node_away_during_100_purges_gets_every_one_in_order_when_it_returns() {
    let Some(srv) = bus::testing::server("bus::catch_up").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let nb = connect(&srv.url(), "away").await;
    let (feed, b) = NodeFeed::bind(&nb, "away", Some(dir.path())).await.unwrap();
    assert!(b.created && b.lost.is_none() && b.applied == 0);
    drop(feed); // the node stops
    let log = PurgeLog::open(&connect(&srv.url(), "cli").await).await.unwrap();
    for i in 1..=100 {
        log.publish(format!("{i}").into()).await.unwrap();
    }
    assert_eq!(log.position().await.unwrap().last, 100);
    let (mut feed, b) = NodeFeed::bind(&nb, "away", Some(dir.path())).await.unwrap();
    assert!(!b.created && b.lost.is_none() && b.applied == 0 && b.position.last == 100, "{b:?}");
    let mut got = Vec::new();
    while feed.applied() < 100 {
        let batch = feed.next_batch(30, Duration::from_secs(5)).await.unwrap();
        assert!(batch.lost.is_none());
        for p in &batch.purges {
            got.push((p.seq, String::from_utf8(p.body.to_vec()).unwrap()));
        }
        feed.done(batch).await.unwrap();
    }
    let want: Vec<(u64, String)> = (1..=100).map(|i| (i, i.to_string())).collect();
    assert_eq!(got, want);
    // The consumer's ack floor is the world's record of what this node applied.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (floor, pending) = feed.consumer_state().await.unwrap();
        if floor == 100 && pending == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "ack floor {floor}, pending {pending}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(feed);
    let (_, b) = NodeFeed::bind(&nb, "away", Some(dir.path())).await.unwrap();
    assert_eq!(b.applied, 100, "a restart resumes after what was acknowledged");
}

#[tokio::test]
async fn a_feed_behind_the_stream_reads_what_it_missed_directly() {
    let Some(srv) = bus::testing::server("bus::read_to").await else { return };
    let nb = connect(&srv.url(), "n").await;
    let (mut feed, _) = NodeFeed::bind(&nb, "n", None).await.unwrap();
    let log = PurgeLog::open(&connect(&srv.url(), "cli").await).await.unwrap();
    for i in 1..=5 {
        log.publish(format!("{i}").into()).await.unwrap();
    }
    let batch = feed.read_to(5, 3).await.unwrap();
    assert_eq!(batch.purges.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 2, 3]);
    feed.done(batch).await.unwrap();
    assert_eq!(feed.applied(), 3);
    // Deliveries of what was read directly are skipped, the rest handed over.
    let mut rest = Vec::new();
    while feed.applied() < 5 {
        let batch = feed.next_batch(10, Duration::from_secs(5)).await.unwrap();
        rest.extend(batch.purges.iter().map(|p| p.seq));
        feed.done(batch).await.unwrap();
    }
    assert_eq!(rest, [4, 5]);
}

#[tokio::test]
async fn purges_the_log_no_longer_holds_are_reported_lost() {
    let Some(srv) = bus::testing::server("bus::lost").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let nb = connect(&srv.url(), "n").await;
    let (feed, _) = NodeFeed::bind(&nb, "n", Some(dir.path())).await.unwrap();
    drop(feed);
    let cli = connect(&srv.url(), "cli").await;
    let log = PurgeLog::open(&cli).await.unwrap();
    for i in 1..=10 {
        log.publish(format!("{i}").into()).await.unwrap();
    }
    // The oldest purges leave the log (as its limits would drop them).
    let stream = cli.jetstream().get_stream(cli.names().purge_stream()).await.unwrap();
    stream.purge().sequence(8).await.unwrap(); // keeps 8..=10
    let (mut feed, b) = NodeFeed::bind(&nb, "n", Some(dir.path())).await.unwrap();
    let why = b.lost.expect("purges 1..=7 are gone");
    assert!(why.contains("1..7"), "{why}");
    assert_eq!(b.applied, 7);
    let batch = feed.next_batch(10, Duration::from_secs(5)).await.unwrap();
    assert_eq!(batch.purges.iter().map(|p| p.seq).collect::<Vec<_>>(), [8, 9, 10]);
    feed.done(batch).await.unwrap();
    drop(feed);

    // The log deleted and created anew: sequences start over; the node
    // cannot know what it missed.
    cli.jetstream().delete_stream(cli.names().purge_stream()).await.unwrap();
    let log = PurgeLog::open(&cli).await.unwrap();
    log.publish("x".into()).await.unwrap();
    let (_, b) = NodeFeed::bind(&nb, "n", Some(dir.path())).await.unwrap();
    let why = b.lost.expect("a replaced log is reported");
    assert!(why.contains("replaced"), "{why}");
    let (_, b) = NodeFeed::bind(&nb, "n", Some(dir.path())).await.unwrap();
    assert!(b.lost.is_none(), "once: the node now follows the new log ({b:?})");
}

#[tokio::test]
async fn members_are_listed_while_they_heartbeat_and_drop_out_when_they_stop() {
    let Some(srv) = bus::testing::server("bus::members").await else { return };
    let b = connect(&srv.url(), "n").await;
    let m = Membership::open_with(&b, Duration::from_secs(1)).await.unwrap();
    let rec = |node: &str, k: u8| Member {
        node: node.into(),
        role: "edge".into(),
        region: Some("seoul".into()),
        public: format!("127.{k}.0.1:8080").parse().unwrap(),
        admin: format!("127.{k}.0.1:9080").parse().unwrap(),
        status: "up".into(),
        applied: 0,
        at_ms: 1,
    };
    m.put(&rec("x", 1)).await.unwrap();
    m.put(&rec("y", 2)).await.unwrap();
    let listed = m.list().await.unwrap();
    assert_eq!(listed, vec![rec("x", 1), rec("y", 2)]);
    m.remove("x").await.unwrap();
    assert_eq!(m.list().await.unwrap(), vec![rec("y", 2)], "a clean stop removes the record");
    // y stops heartbeating: its record expires after the TTL.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !m.list().await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the record did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn stats_are_collected_from_every_node() {
    let Some(srv) = bus::testing::server("bus::stats").await else { return };
    let reader = connect(&srv.url(), "cli").await;
    let mut pubs = Vec::new();
    for n in ["a", "b"] {
        let b = connect(&srv.url(), n).await;
        pubs.push(tokio::spawn(async move {
            for i in 0..100u64 {
                bus::stats::publish(&b, n, serde_json::to_vec(&serde_json::json!({"i": i})).unwrap().into())
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let expect = vec!["a".to_string(), "b".to_string()];
    let got = bus::stats::collect(&reader, &expect, Duration::from_secs(5)).await.unwrap();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), expect);
    assert!(got["a"]["i"].is_u64());
    for p in pubs {
        p.abort();
    }
}

#[tokio::test]
async fn a_bus_that_is_not_there_is_a_clear_error() {
    // A port nothing listens on: bind one, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = Bus::connect(&format!("nats://127.0.0.1:{port}"), "t", "cli", &ConnectOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("cannot reach the bus at nats://127.0.0.1:{port}")), "{e}");
    let e = Bus::connect("http://x/y", "t", "cli", &ConnectOptions::default()).await.unwrap_err().to_string();
    assert!(e.contains("expected nats://HOST:PORT"), "{e}");
}

#[tokio::test]
async fn messages_lost_in_flight_are_read_from_the_stream_before_later_ones_are_handed_over() {
    let Some(srv) = bus::testing::server("bus::holes").await else { return };
    let nb = connect(&srv.url(), "n").await;
    let (mut feed, _) = NodeFeed::bind(&nb, "n", None).await.unwrap();
    let log = PurgeLog::open(&connect(&srv.url(), "cli").await).await.unwrap();
    for i in 1..=3 {
        log.publish(format!("{i}").into()).await.unwrap();
    }
    // Delivered, then lost before the node applied them (as if the
    // connection dropped): never marked done, never acknowledged.
    let mut lost = 0;
    while lost < 3 {
        lost += feed.next_batch(10, Duration::from_secs(5)).await.unwrap().purges.len();
    }
    assert_eq!(feed.applied(), 0);
    log.publish("4".into()).await.unwrap();
    let batch = feed.next_batch(10, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        batch.purges.iter().map(|p| p.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "purge 4 only after 1..=3, read from the stream"
    );
    feed.done(batch).await.unwrap();
    assert_eq!(feed.applied(), 4);
}

/// A server requiring `auth`, in its own directory.
async fn server_with(test: &str, auth: bus::auth::Auth) -> Option<bus::testing::TestServer> {
    if !bus::server::installed() {
        return bus::testing::server(test).await; // skips (or fails in CI) with the message
    }
    let dir = tempfile::tempdir().unwrap();
    let config = bus::server::ServerConfig { auth: Some(auth), ..bus::server::ServerConfig::ephemeral(dir.path()) };
    let server = bus::server::NatsServer::start(config).await.unwrap();
    Some(bus::testing::TestServer { server, dir })
}

async fn connect_as(url: &str, auth: bus::auth::Auth) -> Result<Bus, String> {
    let o = ConnectOptions { auth: Some(auth), ..ConnectOptions::default() };
    Bus::connect(url, "t", "cli", &o).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_bus_that_requires_a_token_or_a_password_refuses_clients_without_it() {
    use bus::auth::Auth;
    let secret = "tok-\"quoted\"-s3cret";
    for (auth, wrong) in [
        (Auth::token(secret), Auth::token("not-it")),
        (Auth::user_password("edge", secret), Auth::user_password("edge", "not-it")),
    ] {
        let Some(srv) = server_with("bus::auth", auth.clone()).await else { return };
        // Not on its command line (`ps`), and its file is its owner's only.
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", srv.server.pid().unwrap())).unwrap();
        assert!(!String::from_utf8_lossy(&cmdline).contains("s3cret"), "{}", String::from_utf8_lossy(&cmdline));
        let conf = srv.dir.path().join("server.conf");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o600);
        for bad in [Auth::none(), wrong] {
            let e = connect_as(&srv.url(), bad.clone()).await.err().unwrap_or_else(|| panic!("{bad:?} let in"));
            assert!(e.contains("cannot reach the bus") && !e.contains("s3cret"), "{e}");
        }
        let b = connect_as(&srv.url(), auth.clone()).await.unwrap();
        let log = PurgeLog::open(&b).await.unwrap();
        assert_eq!(log.publish(bytes::Bytes::from_static(b"{\"all\":true}")).await.unwrap(), 1, "{auth:?}");
    }
}

#[test]
fn credentials_in_the_url_are_refused_without_echoing_them() {
    let e = bus::server_addr("nats://edge:hunter2@127.0.0.1:4222").unwrap_err().to_string();
    assert!(e.contains("CDNLAB_BUS_TOKEN") && !e.contains("hunter2"), "{e}");
}

/// `openssl` in `dir` with `args`; panics with its output when it fails.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_bus_over_tls_is_reached_with_its_ca_and_refused_without_it() {
    use bus::auth::Auth;
    if bus::server::find_program("openssl").is_none() || !bus::server::installed() {
        let _ = bus::testing::server("bus::tls").await; // skips (or fails in CI) when nats-server is missing
        eprintln!("SKIPPED bus::tls: openssl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A CA, and a certificate it signs for 127.0.0.1; another CA, which did not sign it.
    let new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let ca = |name: &str, cn: &str| {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let args = [&["req", "-x509", "-days", "2", "-subj", cn, "-keyout", &key, "-out", &pem][..], &new_key].concat();
        openssl(d, &args);
    };
    ca("ca", "/CN=cdnlab test CA");
    ca("other", "/CN=someone else");
    openssl(
        d,
        &[&["req", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"][..], &new_key].concat(),
    );
    std::fs::write(d.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    let config = bus::server::ServerConfig {
        tls: Some((d.join("server.pem"), d.join("server.key"))),
        auth: Some(Auth::token("tls-s3cret")),
        ..bus::server::ServerConfig::ephemeral(&d.join("store"))
    };
    let srv = bus::server::NatsServer::start(config).await.unwrap();
    let with_ca = |ca: &str| Auth { ca: Some(d.join(ca)), ..Auth::token("tls-s3cret") };
    let e = connect_as(&srv.url(), Auth::token("tls-s3cret")).await.map(|_| ()).expect_err("plain text refused");
    assert!(e.contains("cannot reach the bus"), "{e}");
    let e = connect_as(&srv.url(), with_ca("other.pem"))
        .await
        .map(|_| ())
        .expect_err("a server its CA did not sign refused");
    assert!(e.contains("cannot reach the bus"), "{e}");
    let b = connect_as(&srv.url(), with_ca("ca.pem")).await.unwrap();
    let log = PurgeLog::open(&b).await.unwrap();
    assert_eq!(log.publish(bytes::Bytes::from_static(b"{\"all\":true}")).await.unwrap(), 1);
}
