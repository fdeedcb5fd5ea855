//! The replicated origin, with real components on one manual clock: a
//! primary origin and a replica (its own process state, following the
//! primary's change log over HTTP), and an edge that fills from the
//! nearest site. The replica's lag, the purge race (a purge right after a
//! bump, refilled from a replica that has not seen the bump: shown
//! without `origin_seq`, and zero old versions served after the
//! acknowledgement with it), automatic promotion when the primary dies,
//! manual promotion, and fencing of the old primary by the new epoch.

use std::net::SocketAddr;
use std::time::Duration;

use origin::replication::ReplicationConfig;
use serde_json::{Value, json};
use tests::{TestEdge, client, eventually, header, start_edge};
use tokio::net::TcpListener;
use world::Clock;

const TOKEN: &str = "replica-test-token";
const LAG: Duration = Duration::from_secs(2);

/// A site's two listeners, bound before any site starts (each names the
/// others as peers).
struct Addrs {
    public: TcpListener,
    admin: TcpListener,
}

impl Addrs {
    async fn any() -> Addrs {
        Addrs {
            public: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            admin: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }
    fn admin(&self) -> SocketAddr {
        self.admin.local_addr().unwrap()
    }
}

fn config(clock: &Clock, region: &str, follow: Option<SocketAddr>, peers: Vec<(String, SocketAddr)>) -> origin::Config {
    origin::Config {
        clock: clock.clone(),
        admin_token: Some(TOKEN.into()),
        replication: ReplicationConfig {
            replicated: true,
            region: region.into(),
            follow,
            peers,
            lag: LAG,
            promote_after: None,
            poll: Duration::from_millis(20),
            check_interval: Duration::from_millis(50),
            check_timeout: Duration::from_millis(500),
            ..ReplicationConfig::default()
        },
        ..origin::Config::default()
    }
}

/// A primary (`newyork`) and a replica (`tokyo`) on `clock`; the replica
/// promotes itself after `promote_after` of silence when given.
async fn pair(clock: &Clock, promote_after: Option<Duration>) -> (origin::Handle, origin::Handle) {
    let (p, r) = (Addrs::any().await, Addrs::any().await);
    let pc = config(clock, "newyork", None, vec![("tokyo".into(), r.admin())]);
    let mut rc = config(clock, "tokyo", Some(p.admin()), vec![("newyork".into(), p.admin())]);
    rc.replication.promote_after = promote_after;
    let primary = origin::Bound::on(pc, p.public, p.admin).unwrap().spawn();
    let replica = origin::Bound::on(rc, r.public, r.admin).unwrap().spawn();
    (primary, replica)
}

/// An edge in Tokyo reading the replicated origin: the replica next door
/// (1 ms), the primary far away (150 ms); checks every 50 ms.
async fn edge_in_tokyo(clock: &Clock, primary: &origin::Handle, replica: &origin::Handle) -> TestEdge {
    edge_in_tokyo_with(clock, primary, replica, |_| {}).await
}

/// [`edge_in_tokyo`], with `tweak` applied to its configuration last.
async fn edge_in_tokyo_with(
    clock: &Clock,
    primary: &origin::Handle,
    replica: &origin::Handle,
    tweak: impl FnOnce(&mut edge::Config),
) -> TestEdge {
    let (c, p, r) = (clock.clone(), (primary.public, primary.admin), (replica.public, replica.admin));
    start_edge(primary.public, move |cfg| {
        cfg.name = "tokyo".into();
        cfg.clock = c;
        cfg.admin_token = Some(TOKEN.into());
        cfg.store.disk = 0;
        let site = |name: &str, (listen, admin): (SocketAddr, SocketAddr), ms, primary| edge::origins::SiteConfig {
            name: name.into(),
            listen,
            admin,
            rtt: Duration::from_millis(ms),
            primary,
        };
        cfg.rtt_to_origin = Duration::from_millis(150);
        cfg.origins = Some(edge::origins::OriginsConfig {
            sites: vec![site("newyork", p, 150, true), site("tokyo", r, 1, false)],
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(500),
            thresholds: runtime::health::Thresholds::new(1, 1),
        });
        tweak(cfg);
    })
    .await
}

/// GET through the edge → (status, ETag, CDN-Origin-Seq).
async fn get(e: &TestEdge, path: &str) -> (u16, String, String) {
    let r = client().get(e.url(path)).send().await.unwrap();
    let out = (r.status().as_u16(), header(&r, "etag"), header(&r, "cdn-origin-seq"));
    let _ = r.bytes().await;
    out
}

async fn purge(e: &TestEdge, body: Value) {
    let r =
        client().post(format!("http://{}/purge", e.handle.admin)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{body}");
}

fn site<'a>(s: &'a edge::stats::Stats, name: &str) -> &'a edge::origins::OriginSiteStats {
    s.origin_sites.iter().find(|x| x.name == name).unwrap_or_else(|| panic!("no site {name}: {s:?}"))
}

#[tokio::test]
async fn a_replica_applies_the_primarys_writes_replication_lag_later_on_the_world_clock() {
    let clock = Clock::manual(std::time::SystemTime::now());
    let (primary, replica) = pair(&clock, None).await;
    eventually("the replica has heard from the primary", || async {
        replica.replication().following.is_some() && primary.replication().writable
    })
    .await;
    primary.try_bump(origin::Bump::Path("/obj/7".into())).unwrap();
    assert_eq!(primary.version_of("/obj/7"), 2);
    // Received over HTTP, held for the lag: the clock has not moved.
    eventually("the replica received the change", || async { replica.replication().pending == 1 }).await;
    assert_eq!(replica.version_of("/obj/7"), 1, "applied before the lag");
    assert!(replica.replication().position < primary.replication().position);
    // Writes go to the primary only.
    let refused = replica.try_bump(origin::Bump::Path("/obj/7".into())).unwrap_err();
    assert!(refused.to_string().contains("read-only replica"), "{refused}");
    clock.advance(LAG);
    eventually("the replica applied the change", || async { replica.version_of("/obj/7") == 2 }).await;
    let (p, r) = (primary.replication(), replica.replication());
    assert_eq!((r.applied, r.pending, r.position), (1, 0, p.position), "{r:?} vs {p:?}");
}

/// The race and its fix, counted: after each purge is acknowledged the
/// edge is asked `N` times; without the origin position every answer is
/// the old version (refilled from the lagging replica), with it none is.
#[tokio::test]
async fn after_a_purge_with_the_origin_position_no_old_version_is_served_and_without_it_the_replica_refills_it() {
    const N: usize = 20;
    let clock = Clock::manual(std::time::SystemTime::now());
    let (primary, replica) = pair(&clock, None).await;
    eventually("the replica follows and the primary takes writes", || async {
        replica.replication().following.is_some() && primary.replication().writable
    })
    .await;
    let e = edge_in_tokyo(&clock, &primary, &replica).await;
    let old = |etag: &str| etag.contains("-v1-");
    for (path, with_fix) in [("/obj/7", false), ("/obj/8", true)] {
        let (status, etag, _) = get(&e, path).await;
        assert_eq!((status, old(&etag)), (200, true), "{path}: {etag}");
        let bumped = primary.try_bump(origin::Bump::Path(path.into())).unwrap();
        assert_eq!(bumped.version, Some(2));
        eventually("the replica received the bump (not applied: the lag)", || async {
            replica.replication().pending == 1
        })
        .await;
        let mut body = json!({ "url": path });
        if with_fix {
            body["origin_seq"] = json!(primary.replication().position);
        }
        purge(&e, body).await;
        // Acknowledged. Every answer from now on is counted.
        let mut old_served = 0;
        for _ in 0..N {
            let (status, etag, _) = get(&e, path).await;
            assert_eq!(status, 200);
            old_served += usize::from(old(&etag));
        }
        let s = e.handle.stats();
        if with_fix {
            assert_eq!(old_served, 0, "{path}: old versions served after the purge was acknowledged");
            assert_eq!(site(&s, "tokyo").behind, 1, "the replica's old answer was dropped: {s:?}");
            assert_eq!(site(&s, "newyork").requests, 1, "and the fill asked of the primary: {s:?}");
        } else {
            assert_eq!(old_served, N, "{path}: the race: the replica refilled the old version");
            assert_eq!(site(&s, "tokyo").behind, 0);
        }
        // The replica catches up before the next round.
        clock.advance(LAG);
        eventually("the replica applied the bump", || async { replica.replication().pending == 0 }).await;
    }
    // Caught up, the replica's answers meet the floor again: the next
    // fill is the replica's, not the primary's.
    purge(&e, json!({ "url": "/obj/8" })).await;
    let (status, etag, seq) = get(&e, "/obj/8").await;
    assert_eq!((status, old(&etag)), (200, false), "{etag}");
    assert_eq!(seq.parse::<u64>().unwrap(), replica.replication().position);
    let s = e.handle.stats();
    assert_eq!((site(&s, "tokyo").behind, site(&s, "newyork").requests), (1, 1), "{s:?}");
}

#[tokio::test]
async fn a_replica_promotes_itself_when_the_primary_is_silent_and_the_old_primary_comes_back_fenced() {
    let clock = Clock::manual(std::time::SystemTime::now());
    let promote_after = Duration::from_secs(10);
    let (primary, replica) = pair(&clock, Some(promote_after)).await;
    let (p_public, p_admin, r_admin) = (primary.public, primary.admin, replica.admin);
    eventually("the primary takes writes", || async { primary.replication().writable }).await;
    primary.try_bump(origin::Bump::Path("/obj/1".into())).unwrap();
    eventually("the replica received it", || async { replica.replication().pending == 1 }).await;
    let e = edge_in_tokyo(&clock, &primary, &replica).await;
    primary.shutdown().await;
    // Silent for less than promote_after: no promotion.
    clock.advance(promote_after - Duration::from_secs(1));
    eventually("the replica noticed the silence", || async {
        replica.replication().primary_silent_ms.is_some_and(|ms| ms >= 9_000)
    })
    .await;
    assert_eq!(replica.replication().role, "replica");
    clock.advance(Duration::from_secs(1));
    eventually("the replica promoted itself", || async { replica.replication().role == "primary" }).await;
    let r = replica.replication();
    assert_eq!((r.epoch, r.applied, r.writable), (2, 1, true), "what it received is kept: {r:?}");
    // Writes resume on the new primary; reads too, through the edge.
    let b = replica.try_bump(origin::Bump::Path("/obj/1".into())).unwrap();
    assert_eq!(b.version, Some(3));
    let (status, etag, _) = get(&e, "/obj/1").await;
    assert_eq!((status, etag.contains("-v3-")), (200, true), "{etag}");
    // The old primary comes back on its addresses, as the world file's
    // primary of epoch 1: it finds epoch 2 at its peer and follows it.
    let clock2 = clock.clone();
    let back = origin::bind(config(&clock2, "newyork", None, vec![("tokyo".into(), r_admin)]), p_public, p_admin)
        .await
        .unwrap()
        .spawn();
    eventually("the old primary is fenced", || async { back.replication().role == "replica" }).await;
    let refused = back.try_bump(origin::Bump::Path("/obj/1".into())).unwrap_err();
    assert!(refused.to_string().contains("read-only replica"), "{refused}");
    let r = client()
        .post(format!("http://{p_admin}/bump"))
        .bearer_auth(TOKEN)
        .json(&json!({"path": "/obj/2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "a write to the old primary over HTTP");
    // It rebuilds from the new primary's log.
    clock.advance(LAG);
    eventually("the old primary has the new primary's state", || async {
        back.version_of("/obj/1") == 3 && back.replication().position == replica.replication().position
    })
    .await;
}

#[tokio::test]
async fn a_manual_promotion_fences_the_running_primary_and_writes_name_their_epoch() {
    let clock = Clock::manual(std::time::SystemTime::now());
    let (primary, replica) = pair(&clock, None).await;
    eventually("the primary takes writes", || async { primary.replication().writable }).await;
    let promote = |admin: SocketAddr| client().post(format!("http://{admin}/promote")).bearer_auth(TOKEN).send();
    let r = promote(replica.admin).await.unwrap();
    assert_eq!(r.status(), 200);
    let s: origin::ReplicationStatus = r.json().await.unwrap();
    assert_eq!((s.role.as_str(), s.epoch), ("primary", 2));
    assert_eq!(promote(replica.admin).await.unwrap().status(), 409, "a primary is not promoted twice");
    eventually("the old primary is fenced", || async { primary.replication().role == "replica" }).await;
    let bump = |admin: SocketAddr, q: &str| {
        client().post(format!("http://{admin}/bump{q}")).bearer_auth(TOKEN).json(&json!({"path": "/obj/3"})).send()
    };
    assert_eq!(bump(primary.admin, "").await.unwrap().status(), 409);
    assert_eq!(bump(replica.admin, "?epoch=1").await.unwrap().status(), 409, "a writer in the old epoch is fenced");
    assert_eq!(bump(replica.admin, "?epoch=2").await.unwrap().status(), 200);
}

/// After failover everything follows the sites, not the world file:
/// a write passed through the edge (POST) reaches the new primary, and a
/// large object fetched in slices is filled from the replica next door,
/// headers and every slice (the dead primary is asked nothing).
#[tokio::test]
async fn after_a_promotion_writes_through_the_edge_reach_the_new_primary_and_slices_fill_from_the_nearest_site() {
    let clock = Clock::manual(std::time::SystemTime::now());
    let (primary, replica) = pair(&clock, None).await;
    eventually("the replica follows and the primary takes writes", || async {
        replica.replication().following.is_some() && primary.replication().writable
    })
    .await;
    let e = edge_in_tokyo_with(&clock, &primary, &replica, |cfg| {
        cfg.store.max_object = 1 << 20;
        cfg.slice_size = 1 << 20;
    })
    .await;
    primary.shutdown().await;
    let r = client().post(format!("http://{}/promote", replica.admin)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    eventually("the edge's checks see the new primary and the old one down", || async {
        let s = e.handle.stats();
        let (ny, tk) = (site(&s, "newyork"), site(&s, "tokyo"));
        ny.state == "down" && (tk.role.as_str(), tk.epoch) == ("primary", 2)
    })
    .await;
    // A write through the edge: taken by the new primary.
    let r = client().post(e.url("/echo/note")).body("hello").send().await.unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let answer: Value = r.json().await.unwrap();
    assert_eq!((answer["received"].as_u64(), answer["version"].as_u64()), (Some(5), Some(2)), "{answer}");
    assert_eq!(replica.version_of("/echo/note"), 2);
    // A large object: its headers and its three slices, all from Tokyo.
    let before = site(&e.handle.stats(), "tokyo").requests;
    let r = client().get(e.url("/t/1/3000000")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cs = header(&r, "cache-status");
    assert_eq!(r.bytes().await.unwrap().len(), 3_000_000);
    assert!(cs.contains("detail=slices"), "fetched in slices: {cs}");
    let s = e.handle.stats();
    assert_eq!(site(&s, "tokyo").requests - before, 1 + 3, "the headers and three slices: {s:?}");
    assert_eq!(site(&s, "newyork").requests, 0, "nothing asked of the dead primary: {s:?}");
}

/// The floor is per purged object: while the replica next door lags,
/// the purged object is filled from the primary, and an object the purge
/// did not name still fills from the replica. Once every site has passed
/// the purge's position its floor is folded into the global one.
#[tokio::test]
async fn a_purge_floor_holds_back_only_the_purged_object_and_expires_once_every_site_passed_it() {
    let clock = Clock::manual(std::time::SystemTime::now());
    let (primary, replica) = pair(&clock, None).await;
    eventually("the replica follows and the primary takes writes", || async {
        replica.replication().following.is_some() && primary.replication().writable
    })
    .await;
    let e = edge_in_tokyo(&clock, &primary, &replica).await;
    let (status, etag, _) = get(&e, "/obj/8").await;
    assert_eq!((status, etag.contains("-v1-")), (200, true), "{etag}");
    primary.try_bump(origin::Bump::Path("/obj/8".into())).unwrap();
    eventually("the replica received the bump", || async { replica.replication().pending == 1 }).await;
    let at = primary.replication().position;
    purge(&e, json!({ "url": "/obj/8", "origin_seq": at })).await;
    let s = e.handle.stats();
    assert_eq!((s.origin_floors_scoped, s.origin_floor), (1, 0), "one scoped floor, no global one: {s:?}");
    // The purged object: the replica's answer is dropped, the primary's kept.
    let (status, etag, _) = get(&e, "/obj/8").await;
    assert_eq!((status, etag.contains("-v2-")), (200, true), "{etag}");
    // Unrelated objects: from the lagging replica, nothing dropped.
    for path in ["/obj/9", "/obj/10", "/obj/8?other=1"] {
        let (status, _, seq) = get(&e, path).await;
        assert_eq!(status, 200);
        assert!(seq.parse::<u64>().unwrap() < at, "{path} answered by the lagging replica ({seq} < {at})");
    }
    let s = e.handle.stats();
    let (ny, tk) = (site(&s, "newyork"), site(&s, "tokyo"));
    assert_eq!((tk.behind, ny.requests), (1, 1), "only the purged object left the region: {s:?}");
    assert_eq!(tk.requests, 1 + 1 + 3, "the first fill, the dropped one, three unrelated: {s:?}");
    // The replica catches up; the next checks fold the floor in.
    clock.advance(LAG);
    eventually("the scoped floor is folded into the global one", || async {
        let s = e.handle.stats();
        (s.origin_floors_scoped, s.origin_floor) == (0, at)
    })
    .await;
}
