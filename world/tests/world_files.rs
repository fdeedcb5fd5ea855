//! World files: the shipped ones parse; each kind of mistake is refused with
//! the file, the line and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use world::World;

fn demo_text() -> String {
    world::load::DEMO_TEXT.to_string()
}

/// Parses a modified demo world and returns the error text.
fn refuse(text: &str) -> world::FileError {
    World::parse("bad.toml", text).expect_err("the world should be refused")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn every_shipped_world_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/worlds");
    let mut n = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            World::load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1, "no worlds in {}", dir.display());
}

#[test]
fn demo_world_has_the_documented_shape() {
    let w = World::demo().unwrap();
    let names: Vec<_> = w.regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["seoul", "tokyo", "newyork"]);
    assert_eq!(w.origin.region, "newyork");
    assert_eq!(w.origin.listen.to_string(), "127.0.0.1:8080");
    for (k, e) in w.edges.iter().enumerate() {
        assert_eq!(e.listen.to_string(), format!("127.{}.0.1:8080", k + 1));
        assert_eq!(e.admin.to_string(), format!("127.{}.0.1:9080", k + 1));
    }
    assert_eq!(w.rtt("seoul", "tokyo"), Some(Duration::from_millis(30)));
    assert_eq!(w.rtt("newyork", "seoul"), Some(Duration::from_millis(185)));
    assert_eq!(w.rtt("tokyo", "newyork"), Some(Duration::from_millis(162)));
    assert_eq!(w.rtt("tokyo", "tokyo"), Some(Duration::from_millis(2)));
    let seoul = w.edge("seoul").unwrap();
    assert_eq!(w.data_dir_of(seoul), Path::new("data/demo/seoul"));
    assert_eq!(w.settings_of(seoul).eviction, world::Eviction::S3fifo);
}

#[test]
fn unknown_field_is_refused_with_line_and_field() {
    let text = demo_text().replace("eviction = \"s3fifo\"", "evicton = \"s3fifo\"");
    let err = refuse(&text);
    assert_eq!(err.file, "bad.toml");
    assert_eq!(err.at.unwrap().0, line_of(&text, "evicton"), "{err}");
    assert!(err.message.contains("evicton"), "{err}");
}

#[test]
fn wrong_type_is_refused_with_line() {
    let text = demo_text().replace("lat = 37.5665", "lat = \"north\"");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "\"north\""), "{err}");
}

#[test]
fn bad_byte_size_is_refused_with_line() {
    let text = demo_text().replace("memory = \"64MiB\"", "memory = \"64 lots\"");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "64 lots"), "{err}");
    assert!(err.message.contains("lots"), "{err}");
}

#[test]
fn unknown_region_is_refused_naming_the_edge_and_line() {
    let text = demo_text().replacen("region = \"tokyo\"", "region = \"tokio\"", 1);
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "\"tokio\""), "{err}");
    assert!(err.message.contains("tokio") && err.message.contains("edge `tokyo`"), "{err}");
}

#[test]
fn unknown_origin_region_is_refused() {
    let text = demo_text().replace(
        "region = \"newyork\"\nlisten = \"127.0.0.1:8080\"",
        "region = \"paris\"\nlisten = \"127.0.0.1:8080\"",
    );
    let err = refuse(&text);
    assert!(err.message.contains("paris"), "{err}");
    assert_eq!(err.at.unwrap().0, line_of(&text, "\"paris\""), "{err}");
}

/// Issue 23's follow-up: a bad `origin.host` is refused when the world is
/// loaded, at its line, not when an edge starts.
#[test]
fn a_bad_origin_host_is_refused_at_its_line() {
    let from = "region = \"newyork\"\nlisten = \"127.0.0.1:8080\"";
    assert!(demo_text().contains(from));
    for bad in ["www.example/path", "two words", ""] {
        let text =
            demo_text().replace(from, &format!("region = \"newyork\"\nhost = \"{bad}\"\nlisten = \"127.0.0.1:8080\""));
        let err = refuse(&text);
        assert_eq!(err.at.unwrap().0, line_of(&text, "host = "), "{bad}: {err}");
        assert!(err.message.contains(&format!("origin.host `{bad}`")) && err.message.contains("host[:port]"), "{err}");
    }
    let text =
        demo_text().replace(from, "region = \"newyork\"\nhost = \"www.example:8443\"\nlisten = \"127.0.0.1:8080\"");
    assert_eq!(World::parse("good.toml", &text).unwrap().origin.host.as_deref(), Some("www.example:8443"));
}

#[test]
fn duplicate_address_is_refused_naming_both_users() {
    let text = demo_text().replace("listen = \"127.2.0.1:8080\"", "listen = \"127.1.0.1:8080\"");
    let err = refuse(&text);
    assert!(err.message.contains("duplicate address 127.1.0.1:8080"), "{err}");
    assert!(err.message.contains("edge `tokyo` listen") && err.message.contains("edge `seoul` listen"), "{err}");
    // the error points at the second user (tokyo's listen line)
    let second =
        text.lines().collect::<Vec<_>>().iter().rposition(|l| l.contains("listen = \"127.1.0.1:8080\"")).unwrap() + 1;
    assert_eq!(err.at.unwrap().0, second, "{err}");
}

#[test]
fn non_loopback_address_is_refused() {
    let text = demo_text().replace("admin = \"127.3.0.1:9080\"", "admin = \"10.0.0.1:9080\"");
    let err = refuse(&text);
    assert!(err.message.contains("loopback"), "{err}");
    assert_eq!(err.at.unwrap().0, line_of(&text, "10.0.0.1"), "{err}");
}

#[test]
fn duplicate_edge_name_is_refused() {
    let text = demo_text().replace("name = \"tokyo\"\nregion = \"tokyo\"", "name = \"seoul\"\nregion = \"tokyo\"");
    let err = refuse(&text);
    assert!(err.message.contains("edge `seoul` is defined twice"), "{err}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let err = World::load(Path::new("/nonexistent/world.toml")).unwrap_err();
    assert!(err.to_string().starts_with("/nonexistent/world.toml: cannot read"), "{err}");
}

#[test]
fn error_display_is_file_line_column_message() {
    let text = demo_text().replace("eviction = \"s3fifo\"", "eviction = \"random\"");
    let err = refuse(&text);
    let line = line_of(&text, "\"random\"");
    assert!(err.to_string().starts_with(&format!("bad.toml:{line}:")), "{err}");
}

#[test]
fn a_world_written_back_as_toml_reads_the_same() {
    let w = World::demo().unwrap();
    let text = toml::to_string(&w).expect("serializes");
    let again = World::parse("again.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(toml::to_string(&again).unwrap(), text);
    assert_eq!(again.edges.len(), 3);
    assert_eq!(again.prices_in("seoul").egress.len(), w.prices_in("seoul").egress.len());
}

// ---- bounds (issue 12, defect 8): every number has limits, reported with
// the file, the line and the field; never a panic later.

#[test]
fn an_rtt_of_1e308_ms_is_refused_with_its_line() {
    let text = demo_text().replace("ms = 30 }", "ms = 1e308 }");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "1e308"), "{err}");
    assert!(err.message.contains("latency.rtt: ms") && err.message.contains("10000"), "{err}");
}

#[test]
fn a_1000_tib_disk_tier_is_refused_with_its_line() {
    let text = demo_text().replace("disk = \"256MiB\"", "disk = \"1000TiB\"");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "1000TiB"), "{err}");
    assert!(err.message.contains("disk 1000TiB"), "{err}");
}

#[test]
fn a_memory_tier_of_u64_max_is_refused_with_its_line() {
    let text = demo_text().replace("memory = \"64MiB\"", &format!("memory = \"{}\"", u64::MAX));
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, &u64::MAX.to_string()), "{err}");
    assert!(err.message.contains("between 1MiB and 1TiB"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once_each_at_its_line() {
    let text = demo_text()
        .replace("ms = 30 }", "ms = -5 }")
        .replace("disk = \"256MiB\"", "disk = \"1000TiB\"")
        .replace("utc_offset_hours = 9\nclients = \"127.2", "utc_offset_hours = 99\nclients = \"127.2")
        .replace("min_uses = 1  ", "min_uses = 5000");
    let err = refuse(&text);
    let lines: Vec<usize> = err.all().map(|e| e.at.unwrap().0).collect();
    let want =
        vec![line_of(&text, "= 99"), line_of(&text, "ms = -5"), line_of(&text, "1000TiB"), line_of(&text, "= 5000")];
    assert_eq!(lines, want, "{err}");
    assert_eq!(err.to_string().lines().count(), 4, "{err}");
}

#[test]
fn timeouts_ttls_and_health_numbers_have_upper_bounds() {
    for (from, to, field) in [
        ("origin_timeout = \"10s\"", "origin_timeout = \"30d\"", "origin_timeout"),
        ("min_uses_window = \"10m\"", "min_uses_window = \"400d\"", "min_uses_window"),
        ("time_scale = 1.0 ", "time_scale = 1e9 ", "time_scale"),
        ("admin_token = \"cdnlab-demo-token\"", "admin_token = \"two words\"", "admin_token"),
        ("objects = 100000", "objects = 0", "catalog.objects"),
        ("max = \"8MiB\" }", "max = \"2GiB\" }", "size.max"),
        ("sigma = 1.2,", "sigma = 1e300,", "size.sigma"),
    ] {
        assert!(demo_text().contains(from), "{from}");
        let text = demo_text().replace(from, to);
        let err = refuse(&text);
        assert_eq!(err.at.unwrap().0, line_of(&text, to), "{field}: {err}");
        assert!(err.message.contains(field), "{field}: {err}");
    }
    let text = demo_text().replace("ttl = \"20s\"", "ttl = \"2d\"").replace("fall = 2,", "fall = 0,");
    let err = refuse(&text);
    let msgs: Vec<&str> = err.all().map(|e| e.message.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("geodns.ttl")) && msgs.iter().any(|m| m.contains("fall 0")), "{err}");
}

#[test]
fn shadow_caches_parse_and_bad_ones_are_refused_with_their_line() {
    let ok = demo_text().replace("disk = \"256MiB\"", "disk = \"256MiB\"\nshadow = [\"lru:64MiB\", \"S3-FIFO:1GiB\"]");
    let w = World::parse("ok.toml", &ok).unwrap();
    let s = w.settings_of(&w.edges[0]).shadow;
    assert_eq!(s.iter().map(|c| c.to_string()).collect::<Vec<_>>(), ["lru:64MiB", "s3fifo:1GiB"]);
    for (bad, says) in [
        ("shadow = [\"lirs:64MiB\"]", "unknown policy `lirs`"),
        ("shadow = [\"lru\"]", "policy:size"),
        ("shadow = [\"lru:0\"]", "no capacity"),
        ("shadow = [\"lru:1MiB\", \"sieve:1MiB\", \"lru:1MiB\"]", "listed twice (entries 1 and 3)"),
        (
            "shadow = [\"lru:1MiB\", \"lru:2MiB\", \"lru:3MiB\", \"lru:4MiB\", \"lru:5MiB\", \"lru:6MiB\", \"lru:7MiB\", \"lru:8MiB\", \"lru:9MiB\"]",
            "at most 8",
        ),
    ] {
        let text = demo_text().replace("disk = \"256MiB\"", &format!("disk = \"256MiB\"\n{bad}"));
        let err = refuse(&text);
        assert_eq!(err.at.unwrap().0, line_of(&text, "shadow ="), "{bad}: {err}");
        assert!(err.message.contains(says), "{bad}: {err}");
    }
}

#[test]
fn shadow_sample_defaults_to_exact_and_out_of_range_is_refused_with_its_line() {
    let w = World::parse("ok.toml", &demo_text()).unwrap();
    assert_eq!(w.settings_of(&w.edges[0]).shadow_sample, 1.0);
    let ok = demo_text().replace("disk = \"256MiB\"", "disk = \"256MiB\"\nshadow_sample = 0.1");
    let w = World::parse("ok.toml", &ok).unwrap();
    assert_eq!(w.settings_of(&w.edges[0]).shadow_sample, 0.1);
    for bad in ["shadow_sample = 0.0", "shadow_sample = 1.5", "shadow_sample = 0.0001", "shadow_sample = -1.0"] {
        let text = demo_text().replace("disk = \"256MiB\"", &format!("disk = \"256MiB\"\n{bad}"));
        let err = refuse(&text);
        assert_eq!(err.at.unwrap().0, line_of(&text, "shadow_sample ="), "{bad}: {err}");
        assert!(err.message.contains("must be 0.001 to 1"), "{bad}: {err}");
    }
}
