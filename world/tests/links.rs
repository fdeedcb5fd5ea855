//! Links in world files: defaults, `[network]`, `same_region` and
//! `[[link]]` overrides resolve in that order; bad values are refused with
//! the file, the line and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use world::link::{Jitter, Tcp};
use world::{Bandwidth, ByteSize, Dur, World};

fn demo_text() -> String {
    world::load::DEMO_TEXT.to_string()
}

/// The demo world without its `[network]` block (which states the
/// defaults), with `extra` appended (top-level tables go last).
fn with(extra: &str) -> String {
    let text = demo_text();
    let start = text.find("# What every link is like").expect("the demo's network block");
    let end = start + text[start..].find("slow_start_after_idle").expect("its last line");
    let end = end + text[end..].find('\n').expect("a newline");
    format!("{}{}\n{extra}\n", &text[..start], &text[end..])
}

fn refuse(text: &str) -> world::FileError {
    World::parse("bad.toml", text).expect_err("the world should be refused")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn demo_links_have_the_documented_defaults() {
    let w = World::demo().unwrap();
    let l = w.link("seoul", "newyork").unwrap();
    assert_eq!(l.rtt, Duration::from_millis(185));
    assert_eq!(l.jitter, Jitter::None);
    assert_eq!(l.loss, 0.0);
    assert_eq!(l.bandwidth, Bandwidth::mbit(100));
    assert!(l.tls);
    assert_eq!(
        l.tcp,
        Tcp {
            init_cwnd: 10,
            mss: 1460,
            rwnd: ByteSize::mib(3),
            rto_min: Dur::millis(200),
            initial_rto: Dur::secs(1),
            slow_start_after_idle: true,
        }
    );
    assert_eq!(w.link("newyork", "seoul"), Some(l), "links are symmetric");
    let bare = World::parse("bare.toml", &with("")).unwrap();
    assert_eq!(bare.link("seoul", "newyork"), Some(l), "the demo's [network] block states the code's defaults");
    assert_eq!(w.link("tokyo", "tokyo").unwrap().rtt, Duration::from_millis(2));
    assert_eq!(w.link("tokyo", "mars"), None);
}

const OVERRIDES: &str = r#"
[network]
loss = 0.0005
bandwidth = "200Mbit"
jitter = { dist = "normal", sigma = "2ms" }
same_region = { bandwidth = "1Gbit", loss = 0.0 }

[network.tcp]
init_cwnd = 32
slow_start_after_idle = false

[[link]]
between = ["newyork", "seoul"]
loss = 0.002
jitter = { dist = "pareto", scale = "1ms", shape = 1.5, max = "50ms" }

[[link]]
between = ["tokyo", "tokyo"]
tls = false
"#;

#[test]
fn overrides_apply_network_then_same_region_then_the_pair() {
    let w = World::parse("links.toml", &with(OVERRIDES)).unwrap_or_else(|e| panic!("{e}"));
    // A pair with no [[link]]: the [network] values.
    let st = w.link("seoul", "tokyo").unwrap();
    assert_eq!((st.loss, st.bandwidth, st.tls), (0.0005, Bandwidth::mbit(200), true));
    assert_eq!(st.jitter, Jitter::Normal { sigma: Dur::millis(2) });
    assert_eq!(st.tcp.init_cwnd, 32);
    assert!(!st.tcp.slow_start_after_idle);
    assert_eq!(st.tcp.mss, 1460, "unset TCP fields keep their defaults");
    // The pair's [[link]], written in the other order.
    let sn = w.link("seoul", "newyork").unwrap();
    assert_eq!((sn.loss, sn.bandwidth), (0.002, Bandwidth::mbit(200)));
    assert_eq!(sn.jitter, Jitter::Pareto { scale: Dur::millis(1), shape: 1.5, max: Dur::millis(50) });
    assert_eq!(sn.rtt, Duration::from_millis(185), "the RTT stays the latency table's");
    // Within a region: same_region over [network]; tokyo's own [[link]] on top.
    let ss = w.link("seoul", "seoul").unwrap();
    assert_eq!((ss.loss, ss.bandwidth, ss.tls), (0.0, Bandwidth::mbit(1000), true));
    let tt = w.link("tokyo", "tokyo").unwrap();
    assert_eq!((tt.loss, tt.bandwidth, tt.tls), (0.0, Bandwidth::mbit(1000), false));
}

#[test]
fn a_point_gets_its_home_region_link_or_the_defaults() {
    let w = World::parse("links.toml", &with(OVERRIDES)).unwrap();
    // Shinjuku is within 50 km of Tokyo: the Tokyo–Seoul link.
    assert_eq!(w.link_from_point(35.69, 139.70, "seoul"), w.link("tokyo", "seoul"));
    // Honolulu is nobody's home: [network] over the great-circle RTT.
    let l = w.link_from_point(21.31, -157.86, "newyork").unwrap();
    assert_eq!(l.rtt, w.rtt_from_point(21.31, -157.86, "newyork").unwrap());
    assert_eq!((l.loss, l.bandwidth), (0.0005, Bandwidth::mbit(200)));
}

#[test]
fn a_world_with_links_written_back_reads_the_same() {
    let w = World::parse("links.toml", &with(OVERRIDES)).unwrap();
    let text = toml::to_string(&w).unwrap();
    let again = World::parse("again.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for (a, b) in [("seoul", "newyork"), ("tokyo", "tokyo"), ("seoul", "seoul"), ("tokyo", "newyork")] {
        assert_eq!(again.link(a, b), w.link(a, b), "{a}–{b}");
    }
}

/// Each bad value, the text that marks its line, and words the message must have.
const BAD: &[(&str, &str, &[&str])] = &[
    ("[[link]]\nbetween = [\"seoul\", \"paris\"]\nloss = 0.01", "\"paris\"", &["unknown region `paris`", "seoul"]),
    (
        "[[link]]\nbetween = [\"seoul\", \"tokyo\"]\n[[link]]\nbetween = [\"tokyo\", \"seoul\"]  # again",
        "# again",
        &["already given by [[link]] #1"],
    ),
    ("[[link]]\nbetween = [\"seoul\", \"tokyo\"]\nloss = 0.5", "loss = 0.5", &["loss 0.5", "0..=0.2"]),
    ("[[link]]\nbetween = [\"seoul\", \"tokyo\"]\nloss = -0.1", "loss = -0.1", &["loss -0.1"]),
    ("[[link]]\nbetween = [\"seoul\", \"tokyo\"]\nbandwidth = \"10kbit\"", "10kbit", &["bandwidth 10kbit"]),
    ("[[link]]\nbetween = [\"seoul\", \"tokyo\"]\nbandwidth = \"10 furlongs\"", "furlongs", &["furlongs"]),
    ("[[link]]\nbetween = [\"seoul\", \"tokyo\"]\nlos = 0.1", "los = 0.1", &["los"]),
    ("[[link]]\nbetween = [\"seoul\"]\nloss = 0.1", "between = [\"seoul\"]", &["2"]),
    (
        "[[link]]\nbetween = [\"seoul\", \"tokyo\"]\njitter = { dist = \"pareto\", scale = \"1ms\", shape = 0.0 }",
        "shape = 0.0",
        &["shape 0", "> 0"],
    ),
    (
        "[[link]]\nbetween = [\"seoul\", \"tokyo\"]\njitter = { dist = \"pareto\", scale = \"5ms\", shape = 2.0, max = \"1ms\" }",
        "max = \"1ms\"",
        &["max 1ms", "scale"],
    ),
    ("[[link]]\nbetween = [\"seoul\", \"tokyo\"]\njitter = { dist = \"gaussian\" }", "gaussian", &["gaussian"]),
    ("[[link]]\nbetween = [\"seoul\", \"tokyo\"]\njitter = { dist = \"normal\" }", "{ dist = \"normal\" }", &["sigma"]),
    (
        "[[link]]\nbetween = [\"seoul\", \"tokyo\"]\njitter = { dist = \"normal\", sigma = \"2s\" }",
        "sigma = \"2s\"",
        &["sigma 2s"],
    ),
    ("[network]\nloss = 0.3", "loss = 0.3", &["network.loss"]),
    ("[network]\nsame_region = { bandwidth = \"1kbit\" }", "bandwidth = \"1kbit\"", &["network.same_region", "1kbit"]),
    ("[network.tcp]\nmss = 100", "mss = 100", &["network.tcp.mss", "536"]),
    ("[network.tcp]\ninit_cwnd = 0", "init_cwnd = 0", &["init_cwnd 0"]),
    ("[network.tcp]\nrwnd = \"1KiB\"", "rwnd = \"1KiB\"", &["rwnd 1KiB", "initial window"]),
    ("[network.tcp]\nrto_min = \"0\"", "rto_min = \"0\"", &["rto_min 0ms"]),
    ("[network.tcp]\ninitial_rto = \"2m\"", "initial_rto", &["initial_rto 120s"]),
    ("[network.tcp]\nslow_start_after_idle = 1", "slow_start_after_idle = 1", &["bool"]),
];

#[test]
fn bad_links_are_refused_with_the_line_and_the_field() {
    for (extra, marker, words) in BAD {
        let text = with(extra);
        let err = refuse(&text);
        assert_eq!(err.file, "bad.toml");
        assert_eq!(err.at.map(|a| a.0), Some(line_of(&text, marker)), "{extra}\n→ {err}");
        for w in *words {
            assert!(err.message.contains(w), "{extra}\n→ {err}\n(missing `{w}`)");
        }
    }
}
