//! Scenario files from arbitrary TOML text (`scenarios/src/scenario.rs`:
//! parsing, the scenario's overrides merged into the demo world, the
//! checks, expectations, every arm).
//!
//! Properties: never a panic; an error names a line within the text; a
//! scenario that loads yields a world and events that can be used.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scenarios::scenario::{parse_expectation, parse_text};
use world::World;

fn demo() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| World::demo().expect("demo world"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (s, w) = match parse_text("fuzz.toml", text, demo()) {
        Ok(sw) => sw,
        Err(e) => {
            if let Some((line, col)) = e.at {
                assert!(line >= 1 && col >= 1 && line <= text.lines().count().max(1) + 1, "{e}");
            }
            let _ = e.to_string();
            return;
        }
    };
    for e in &s.events {
        let _ = (e.at(), e.kind());
    }
    for v in s.expect.values() {
        parse_expectation(v).expect("checked at load");
    }
    for e in &w.edges {
        let _ = w.settings_of(e);
    }
});
