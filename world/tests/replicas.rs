//! The replicated origin in world files: the shipped world parses and
//! derives each replica's addresses; bad replication settings are refused
//! with the file, the line and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use world::World;

mod common;
use common::{messages, refuse, refused_at};

/// The demo world with `lines` added to its `[origin]` table.
fn with_origin(lines: &str) -> String {
    world::load::DEMO_TEXT.replacen("[origin]\n", &format!("[origin]\n{lines}\n"), 1)
}

#[test]
fn the_shipped_replicated_world_has_a_replica_in_tokyo_and_seoul_at_127_k_0_100() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/worlds/replicated.toml");
    let w = World::load(&p).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.is_replicated());
    let sites = w.origin_sites();
    let got: Vec<(&str, String, String, bool)> =
        sites.iter().map(|s| (s.region.as_str(), s.listen.to_string(), s.admin.to_string(), s.primary)).collect();
    assert_eq!(
        got,
        [
            ("newyork", "127.0.0.1:8080".to_string(), "127.0.0.1:9080".to_string(), true),
            ("tokyo", "127.2.0.100:8080".to_string(), "127.2.0.100:9080".to_string(), false),
            ("seoul", "127.1.0.100:8080".to_string(), "127.1.0.100:9080".to_string(), false),
        ]
    );
    assert_eq!(w.origin.replication_lag.0, Duration::from_secs(2));
    assert_eq!(w.origin.promote_after.unwrap().0, Duration::from_secs(10));
}

#[test]
fn the_demo_world_has_one_origin() {
    let w = World::demo().unwrap();
    assert!(!w.is_replicated());
    assert_eq!(w.origin_sites().len(), 1);
}

#[test]
fn a_replica_in_an_unknown_region_is_refused_at_its_line() {
    let text = with_origin("replicas = [\"paris\"]");
    refused_at(&text, "\"paris\"", "origin replica region `paris` is not a region");
}

#[test]
fn a_replica_in_the_primary_region_or_listed_twice_is_refused() {
    let text = with_origin("replicas = [\"newyork\"]");
    refused_at(&text, "replicas = ", "the primary is there already");
    let text = with_origin("replicas = [\"tokyo\", \"tokyo\"]");
    refused_at(&text, "replicas = ", "`tokyo` is listed twice");
}

#[test]
fn a_negative_or_too_long_lag_and_a_zero_promotion_timeout_are_refused() {
    let text = with_origin("replicas = [\"tokyo\"]\nreplication_lag = -2");
    refused_at(&text, "replication_lag", "negative");
    let text = with_origin("replicas = [\"tokyo\"]\nreplication_lag = \"-2s\"");
    refused_at(&text, "replication_lag", "not a duration");
    let text = with_origin("replicas = [\"tokyo\"]\nreplication_lag = \"2h\"");
    refused_at(&text, "replication_lag", "origin.replication_lag 7200s must be at most 3600s");
    let text = with_origin("replicas = [\"tokyo\"]\npromote_after = \"0s\"");
    refused_at(&text, "promote_after", "origin.promote_after 0ms must be > 0");
    let text = with_origin("promote_after = \"5s\"");
    refused_at(&text, "promote_after", "needs origin.replicas");
}

#[test]
fn a_replica_address_already_in_use_is_refused_naming_both() {
    // An edge placed on Tokyo's replica address.
    let text = format!(
        "{}\n[[edge]]\nname = \"tokyo2\"\nregion = \"tokyo\"\nlisten = \"127.2.0.100:8080\"\nadmin = \"127.2.0.5:9080\"\n",
        with_origin("replicas = [\"tokyo\"]")
    );
    let err = refuse(&text);
    assert!(
        messages(&err)
            .iter()
            .any(|(_, m)| m.contains("duplicate address 127.2.0.100:8080")
                && m.contains("origin replica `tokyo` listen")),
        "{err}"
    );
}
