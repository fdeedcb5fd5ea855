//! `extends`: a world that starts from another and says only what differs;
//! its mistakes are reported at its own lines, every one at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use world::World;

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

const SEOUL_4X: &str = r#"extends = "demo"
name = "seoul-4x"

[origin]
region = "seoul"

[edge.seoul]
memory = "256MiB"
"#;

#[test]
fn a_world_extends_the_demo_and_changes_only_what_differs() {
    let w = World::parse("seoul-4x.toml", SEOUL_4X).unwrap();
    assert_eq!(w.name, "seoul-4x");
    assert_eq!(w.origin.region, "seoul", "a table merges key by key");
    assert_eq!(w.origin.listen.to_string(), "127.0.0.1:8080", "what is not said is the demo's");
    assert_eq!(w.edges.len(), 3, "edges merge by name");
    assert_eq!(w.settings_of(w.edge("seoul").unwrap()).memory, world::ByteSize::mib(256));
    assert_eq!(w.settings_of(w.edge("tokyo").unwrap()).memory, world::ByteSize::mib(64));
    assert_eq!(w.rtt("seoul", "newyork"), World::demo().unwrap().rtt("seoul", "newyork"));
}

#[test]
fn a_new_name_adds_an_edge() {
    let text = format!(
        "{SEOUL_4X}\n[edge.osaka]\nregion = \"tokyo\"\nlisten = \"127.2.0.2:8080\"\nadmin = \"127.2.0.2:9080\"\n"
    );
    let w = World::parse("osaka.toml", &text).unwrap();
    assert_eq!(w.edges.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["seoul", "tokyo", "newyork", "osaka"]);
}

#[test]
fn mistakes_in_the_extending_file_are_reported_at_its_lines_all_at_once() {
    let text =
        SEOUL_4X.replace("memory = \"256MiB\"", "memory = \"2TiB\"").replace("region = \"seoul\"", "region = \"mars\"");
    let e = World::parse("seoul-4x.toml", &text).unwrap_err();
    let got: Vec<(String, usize)> = e.all().map(|e| (e.file.clone(), e.at.unwrap().0)).collect();
    assert_eq!(
        got,
        [("seoul-4x.toml".to_string(), line_of(&text, "mars")), ("seoul-4x.toml".to_string(), line_of(&text, "2TiB"))],
        "{e}"
    );
    let typo = SEOUL_4X.replace("memory =", "memroy =");
    let e = World::parse("seoul-4x.toml", &typo).unwrap_err();
    assert_eq!((e.file.as_str(), e.at.unwrap().0), ("seoul-4x.toml", line_of(&typo, "memroy")), "{e}");
    assert!(e.message.contains("memroy"), "{e}");
    let wrong_type = SEOUL_4X.replace("region = \"seoul\"", "region = 7");
    let e = World::parse("seoul-4x.toml", &wrong_type).unwrap_err();
    assert_eq!(e.at.unwrap().0, line_of(&wrong_type, "region = 7"), "{e}");
}

#[test]
fn extends_reads_a_file_next_to_it_and_refuses_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.toml"), SEOUL_4X).unwrap();
    std::fs::write(
        dir.path().join("child.toml"),
        "extends = \"base.toml\"\nname = \"child\"\n[edge.tokyo]\ndisk = \"0\"\n",
    )
    .unwrap();
    let w = World::load(&dir.path().join("child.toml")).unwrap();
    assert_eq!((w.name.as_str(), w.origin.region.as_str()), ("child", "seoul"));
    assert_eq!(w.settings_of(w.edge("tokyo").unwrap()).disk.0, 0);
    std::fs::write(dir.path().join("a.toml"), "extends = \"b.toml\"\n").unwrap();
    std::fs::write(dir.path().join("b.toml"), "extends = \"a.toml\"\n").unwrap();
    let e = World::load(&dir.path().join("a.toml")).unwrap_err();
    assert!(e.message.contains("deep"), "{e}");
    let e = World::parse("x.toml", "extends = \"nowhere.toml\"\n").unwrap_err();
    assert!(e.to_string().starts_with("x.toml:1:") && e.message.contains("cannot read"), "{e}");
}
