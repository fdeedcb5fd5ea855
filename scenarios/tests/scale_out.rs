//! The multi-host demonstration (`scripts/scale-out.sh`, docs/scale-out.md)
//! with the real binaries: five network namespaces as hosts (core: bus,
//! origin, GeoDNS; one edge each for Seoul, Tokyo and New York; clients),
//! each joined by a veth pair to a bridge in a sixth, addresses from the
//! documentation ranges (nothing leaves the machine). The script checks
//! each step itself (GeoDNS learns every edge's address from the bus and
//! answers each region's client with its edge; a purge reaches every edge;
//! with Tokyo's link cut while three purges are issued, each names Tokyo
//! and GeoDNS fails over; once back Tokyo serves none of the purged
//! objects to the clients host) and exits non-zero when one fails. Needs
//! root, `ip`, `dig`, `curl` and nats-server: skipped with a message
//! without them, unless `CI` is set (then it fails).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

fn missing() -> Option<String> {
    // The effective uid: the second field of `Uid:` in /proc/self/status.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().nth(1));
    if euid != Some("0") {
        return Some("not root (it creates network namespaces)".into());
    }
    for p in ["ip", "dig", "curl", "nats-server"] {
        if bus::server::find_program(p).is_none() {
            return Some(format!("`{p}` is not installed"));
        }
    }
    None
}

#[test]
fn a_world_on_five_hosts_meets_through_the_bus_and_a_cut_off_edge_serves_no_purged_object() {
    if let Some(why) = missing() {
        assert!(std::env::var_os("CI").is_none(), "scale-out test: {why}");
        eprintln!("SKIPPED scale-out test: {why}");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/scale-out.sh");
    let tag = format!("t{}", std::process::id() % 100_000);
    let mut child = Command::new("bash")
        .arg(script)
        .env("CDN", env!("CARGO_BIN_EXE_cdn"))
        .env("TAG", &tag)
        .env_remove("KEEP")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: the script takes about fifteen seconds.
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            // SIGTERM to bash runs its cleanup (namespaces, children).
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let out = child.wait_with_output().unwrap();
            panic!("scale-out.sh took over 180 s: {}", String::from_utf8_lossy(&out.stdout));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scale-out.sh failed:\n{stdout}\n{stderr}");
    for line in [
        "clients$ dig @192.0.2.1 -p 1053 -b 198.51.100.10 cdn.test A +short\n192.0.2.12\n",
        "all 3 edges acknowledged",
        "NOT acknowledged: tokyo",
        "Tokyo's client gets 192.0.2.11 (seoul)",
        "GET /obj/2 on tokyo (from Tokyo's client): edge-tokyo; fwd=uri-miss",
        "GET /obj/3 on tokyo (from Tokyo's client): edge-tokyo; fwd=uri-miss",
        "GET /obj/4 on tokyo (from Tokyo's client): edge-tokyo; fwd=uri-miss",
        "scale-out: all checks passed",
    ] {
        assert!(stdout.contains(line), "no `{line}` in:\n{stdout}");
    }
    // Nothing left behind.
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&netns.stdout).contains(&tag), "namespaces left behind");
}
