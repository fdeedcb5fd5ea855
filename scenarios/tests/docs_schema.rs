//! `docs/scenarios.md` and `docs/worlds.md` list every field of the
//! schema, and nothing else: each table of the docs is compared with the
//! fields serde knows (read from the error a table with an unknown field
//! gets: `unknown field …, expected one of …`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;

/// The field names serde accepts in `T`, from the error an unknown field
/// gets; `base` is what `T` needs besides (a tagged enum's tag).
fn fields_of<T: DeserializeOwned>(base: &str) -> BTreeSet<String> {
    let text = format!("{base}\nzz_not_a_field = 1\n");
    let e = toml::from_str::<T>(&text).err().expect("an unknown field is refused").to_string();
    ticked(e.split("expected").nth(1).unwrap_or_else(|| panic!("no field list in: {e}")))
}

/// Every `name` between backticks in `s`.
fn ticked(s: &str) -> BTreeSet<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The first column of each table row (`| \`name\` | …`) in the section
/// of `doc` whose heading is `heading`.
fn documented(doc: &str, heading: &str) -> BTreeSet<String> {
    let mut lines = doc.lines().skip_while(|l| l.trim_start_matches('#').trim() != heading);
    assert!(lines.next().is_some(), "no section `{heading}`");
    lines
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

fn same(doc: &str, file: &str, heading: &str, schema: BTreeSet<String>) {
    let docs = documented(doc, heading);
    let missing: Vec<_> = schema.difference(&docs).collect();
    let extra: Vec<_> = docs.difference(&schema).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{file} `{heading}`: undocumented {missing:?}, not in the schema {extra:?}"
    );
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn docs_scenarios_md_lists_every_field_of_the_scenario_schema() {
    use scenarios::scenario::*;
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/scenarios.md");
    let doc = std::fs::read_to_string(file).unwrap();
    same(&doc, file, "Top level", fields_of::<Scenario>(""));
    same(&doc, file, "`[origin]`", fields_of::<OriginSpec>(""));
    same(&doc, file, "`[workload]`", fields_of::<Workload>(""));
    same(&doc, file, "`workload.sizes`", fields_of::<world::config::SizeModel>(""));
    same(&doc, file, "`workload.popularity`", fields_of::<Popularity>(""));
    same(&doc, file, "`workload.diurnal`", fields_of::<Diurnal>(""));
    same(&doc, file, "`[sweep]`", fields_of::<Sweep>(""));
    same(&doc, file, "`[[arm]]`", set(&["name"]));
    same(&doc, file, "`[overrides]`", set(&OVERRIDE_TABLES));
    same(&doc, file, "`[expect]`", scenarios::scenario::Field::ALL.iter().map(|f| f.name().to_string()).collect());
    // events: `at`, `do` and every field of every kind
    let kinds = {
        let e = toml::from_str::<Event>("do = \"zz\"\nat = \"1s\"\n").unwrap_err().to_string();
        ticked(e.split("expected").nth(1).unwrap())
    };
    assert!(kinds.contains("edge-kill") && kinds.len() >= 8, "{kinds:?}");
    let mut ev = set(&["do"]);
    for k in &kinds {
        ev.extend(fields_of::<Event>(&format!("do = \"{k}\"")));
    }
    same(&doc, file, "`[[event]]`", ev);
    let row = doc.lines().find(|l| l.starts_with("| `do` |")).unwrap();
    assert_eq!(ticked(row.split('|').nth(4).unwrap()), kinds, "every event kind named in the `do` row");
}

#[test]
fn docs_worlds_md_lists_every_field_of_the_world_schema() {
    use world::config::*;
    use world::price::{Prices, RegionPrices, Tier};
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/worlds.md");
    let doc = std::fs::read_to_string(file).unwrap();
    same(&doc, file, "Top level", fields_of::<World>(""));
    same(&doc, file, "`[[region]]`", fields_of::<Region>(""));
    same(&doc, file, "`region.prices`", fields_of::<RegionPrices>(""));
    same(&doc, file, "`[latency]`", fields_of::<Latency>(""));
    same(&doc, file, "`latency.rtt`", fields_of::<RttEntry>(""));
    same(&doc, file, "`[origin]`", fields_of::<Origin>(""));
    same(&doc, file, "`[catalog]`", fields_of::<Catalog>(""));
    same(&doc, file, "`[[catalog.rule]]`", fields_of::<CatalogRule>(""));
    let settings = fields_of::<EdgeSettings>("");
    assert_eq!(settings, set(EdgeSettings::FIELDS));
    same(&doc, file, "`[edge_defaults]`", settings.clone());
    same(&doc, file, "`[[edge]]`", fields_of::<Edge>("").difference(&settings).cloned().collect());
    same(&doc, file, "`[geodns]`", fields_of::<GeoDns>(""));
    same(&doc, file, "`geodns.health`", fields_of::<HealthCheck>(""));
    same(&doc, file, "`[shield]`", fields_of::<Shield>(""));
    same(&doc, file, "`shield.health`", fields_of::<HealthCheck>(""));
    assert_eq!(fields_of::<CachePolicy>(""), set(&["rule"]));
    same(&doc, file, "`[[cache.rule]]`", fields_of::<CacheRule>(""));
    same(&doc, file, "`[prices]`", fields_of::<Prices>(""));
    same(&doc, file, "`prices.egress`", fields_of::<Tier>(""));
    same(&doc, file, "`[dashboard]`", fields_of::<Dashboard>(""));
}
