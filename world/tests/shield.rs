//! The origin shield in world files: the shipped shield world parses and
//! says what each edge fills from; bad topologies are refused with the
//! file, the line and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use world::World;
use world::tiers::Upstream;

fn with_shield(shield: &str) -> String {
    format!("{}\n[shield]\n{shield}\n", world::load::DEMO_TEXT)
}

fn refuse(text: &str) -> world::FileError {
    World::parse("bad.toml", text).expect_err("the world should be refused")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

/// The line of `needle` in the `[shield]` table.
fn shield_line(text: &str, needle: &str) -> usize {
    let start = line_of(text, "[shield]");
    text.lines().skip(start).position(|l| l.contains(needle)).expect("needle in [shield]") + start + 1
}

/// Every problem of the error (the first and the ones riding along).
fn messages(e: &world::FileError) -> Vec<(usize, String)> {
    e.all().map(|e| (e.at.map_or(0, |a| a.0), e.message.clone())).collect()
}

#[test]
fn the_shipped_shield_world_has_newyork_as_the_shield_at_127_3_0_2() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/worlds/shield.toml");
    let w = World::load(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.shield_edge().unwrap().name, "newyork");
    assert_eq!(w.shield_listen().unwrap().to_string(), "127.3.0.2:8080");
    for e in &w.edges {
        match (e.name.as_str(), w.upstream_of(e)) {
            ("newyork", Upstream::Origin) => assert!(w.is_shield(e)),
            ("seoul" | "tokyo", Upstream::Shield { edge, listen }) => {
                assert_eq!(edge.name, "newyork");
                assert_eq!(listen.to_string(), "127.3.0.2:8080");
            }
            (n, u) => panic!("edge {n} fills from {u:?}"),
        }
    }
    let s = w.shield.as_ref().unwrap();
    assert!(s.fallback);
}

#[test]
fn without_a_shield_every_edge_fills_from_the_origin() {
    let w = World::demo().unwrap();
    assert!(w.shield_edge().is_none());
    assert!(w.edges.iter().all(|e| matches!(w.upstream_of(e), Upstream::Origin)));
}

#[test]
fn a_shield_in_an_unknown_region_is_refused_at_its_line() {
    let text = with_shield("region = \"paris\"");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "\"paris\""), "{err}");
    assert!(err.message.contains("shield region `paris` is not a region"), "{err}");
}

#[test]
fn a_shield_region_without_an_edge_or_with_two_is_refused() {
    let text = format!(
        "{}\n[[region]]\nname = \"paris\"\ncity = \"Paris\"\nlat = 48.85\nlon = 2.35\nclients = \"127.4.0.0/16\"\n",
        with_shield("region = \"paris\"")
    );
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, shield_line(&text, "region = \"paris\""), "{err}");
    assert!(err.message.contains("has no edge"), "{err}");

    let text = format!(
        "{}\n[[edge]]\nname = \"tokyo2\"\nregion = \"tokyo\"\nlisten = \"127.2.0.5:8080\"\nadmin = \"127.2.0.5:9080\"\n",
        with_shield("region = \"tokyo\"")
    );
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, shield_line(&text, "region = \"tokyo\""), "{err}");
    assert!(err.message.contains("has 2 edges (tokyo, tokyo2)"), "{err}");
}

#[test]
fn a_shield_whose_tier_listener_is_the_origin_is_its_own_upstream_and_refused() {
    let text = with_shield("region = \"newyork\"\nlisten = \"127.0.0.1:8080\"");
    let err = refuse(&text);
    let all = messages(&err);
    let line = shield_line(&text, "listen = ");
    assert!(
        all.iter().any(|(l, m)| *l == line && m.contains("the shield would be its own upstream")),
        "{err}\n(line {line})"
    );
}

#[test]
fn a_shield_listener_on_an_address_in_use_is_refused_naming_both() {
    let text = with_shield("region = \"newyork\"\nlisten = \"127.1.0.1:8080\"");
    let err = refuse(&text);
    let all = messages(&err);
    let line = shield_line(&text, "listen = ");
    assert!(
        all.iter()
            .any(|(l, m)| *l == line && m.contains("duplicate address 127.1.0.1:8080") && m.contains("shield listen")),
        "{err}"
    );
}

#[test]
fn bad_shield_health_and_catch_up_are_refused_each_at_its_line() {
    let text = with_shield("region = \"newyork\"\ncatch_up = \"0s\"\nhealth = { interval = \"0s\", fall = 0 }");
    let err = refuse(&text);
    let all = messages(&err);
    let line = shield_line(&text, "catch_up = ");
    assert!(all.iter().any(|(l, m)| *l == line && m.contains("shield.catch_up")), "{err}");
    let hl = shield_line(&text, "health = {");
    assert!(all.iter().any(|(l, m)| *l == hl && m.contains("shield.health.interval")), "{err}");
    assert!(all.iter().any(|(l, m)| *l == hl && m.contains("shield.health.fall")), "{err}");
}

#[test]
fn an_unknown_shield_field_is_refused_at_its_line() {
    let text = with_shield("region = \"newyork\"\nfallbak = false");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "fallbak"), "{err}");
    assert!(err.message.contains("fallbak"), "{err}");
}
