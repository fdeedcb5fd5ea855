//! World files from arbitrary TOML text (`world/src/load.rs`,
//! `world/src/config.rs`, the units of `world/src/units.rs`, the located
//! errors of `world/src/toml_file.rs`), and what every server computes
//! from a world that loaded: each edge's settings and configuration, the
//! modelled round-trip times between regions and GeoDNS's rankings, prices,
//! object sizes, the clock.
//!
//! Properties: never a panic; an error names a line within the text; a
//! world that loads can be used (no panic, no overflow, computing from it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use world::World;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let w = match World::parse("fuzz.toml", text) {
        Ok(w) => w,
        Err(e) => {
            if let Some((line, col)) = e.at {
                assert!(line >= 1 && col >= 1 && line <= text.lines().count().max(1) + 1, "{e}");
            }
            let _ = e.to_string();
            return;
        }
    };
    use_world(&w);
});

fn use_world(w: &World) {
    for e in &w.edges {
        let _ = w.settings_of(e);
        let _ = w.data_dir_of(e);
        let _ = edge::Config::from_world(w, &e.name).expect("an edge of the world");
    }
    for a in &w.regions {
        for b in &w.regions {
            let _ = w.rtt(&a.name, &b.name);
        }
        let _ = w.prices_in(&a.name);
        let _ = w.rtt_from_point(a.lat, a.lon, &a.name);
    }
    let _ = geodns::choice::Routes::new(w);
    let _ = geodns::Config::from_world(w);
    for id in [0, 1, 7, 4242, u64::MAX] {
        let _ = w.catalog.size.size_of(id);
    }
    for p in ["/", "/obj/1", "/img/a.png", "/api/x?y=1"] {
        let _ = w.catalog_rule(p);
        let _ = w.cache_rule(p);
    }
    let _ = world::Clock::for_scale(w.time_scale).now();
    let _ = (w.admin_token(), w.default_region(), w.origin_url());
}
