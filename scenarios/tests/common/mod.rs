//! Helpers shared by the tests of the real `cdn` binary.
#![allow(dead_code)]

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Loopback addresses no other test (in this process or any other, such as
/// a second `cargo test` at the same time) uses while this value lives.
///
/// `cdn up` and `cdn run` start their servers as child processes on the
/// fixed addresses of a world file, so their tests cannot take ports from
/// the kernel; instead each test claims a slot, the 254 addresses
/// `127.X.Y.1` … `127.X.Y.254` (X in 64–127, Y in 0–255, away from the demo
/// world's 127.0–3 and the 50-edge world's 127.4–50), by holding an
/// exclusive lock on the slot's file in the temporary directory. The lock
/// goes with the process, however it ends, so a crashed run never blocks
/// a slot. The first slot tried comes from the process id, so parallel runs
/// rarely even meet on a lock. The TCP ports of the demo layout (the first
/// four addresses) are also reserved ([`tests::net`]): a slot where
/// something else already listens (a
/// program that does not know about the locks) is passed over, and nothing
/// else can start listening there while the test runs; the test's own
/// servers still can.
pub struct Slot {
    n: u32,
    _lock: File,
    _ports: Vec<tests::net::Reserved>,
}

const SLOTS: u32 = 64 * 256;

impl Slot {
    /// Claims a free slot.
    pub fn claim() -> Slot {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join("cdnlab-test-slots");
        std::fs::create_dir_all(&dir).unwrap();
        let first = std::process::id().wrapping_mul(64).wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        for i in 0..SLOTS {
            let n = first.wrapping_add(i) % SLOTS;
            let f = File::create(dir.join(format!("slot-{n}"))).unwrap();
            if f.try_lock().is_err() {
                continue;
            }
            let ip = |k: u8| std::net::IpAddr::V4(Self::ip_of(n, k));
            let tcp = [(0, 8080), (0, 9080), (0, 1053), (0, 8053), (0, 8060)]
                .into_iter()
                .chain((1..=3).flat_map(|k| [(k, 8080), (k, 9080)]))
                .map(|(k, port)| tests::net::try_reserve(std::net::SocketAddr::new(ip(k), port)))
                .collect::<Result<Vec<_>, _>>();
            let udp_free = std::net::UdpSocket::bind((ip(0), 1053)).is_ok();
            if let (Ok(ports), true) = (tcp, udp_free) {
                return Slot { n, _lock: f, _ports: ports };
            }
        }
        panic!("every test address slot in {} is taken", dir.display());
    }

    /// Address `k` (0–253) of the slot; in the demo layout 0 is the origin's,
    /// GeoDNS's and the dashboard's, 1–3 the edges' of Seoul, Tokyo and New
    /// York.
    pub fn ip(&self, k: u8) -> Ipv4Addr {
        assert!(k < 254, "a slot has 254 addresses");
        Self::ip_of(self.n, k)
    }

    fn ip_of(n: u32, k: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 64 + (n / 256) as u8, (n % 256) as u8, k + 1)
    }
}

/// A copy of the demo world on the slot's addresses (origin, GeoDNS and
/// dashboard on address 0, edge k on address k, the demo's ports), with its data
/// directory in `dir` and patient health checks (a busy machine must not
/// make an edge look down), so the test neither collides with anything
/// else running nor leaves files behind.
pub fn test_world(dir: &Path, slot: &Slot) -> PathBuf {
    let o = slot.ip(0);
    let text = world::load::DEMO_TEXT
        .replace("127.0.0.1:8080", &format!("{o}:8080"))
        .replace("127.0.0.1:9080", &format!("{o}:9080"))
        .replace("127.0.0.1:1053", &format!("{o}:1053"))
        .replace("127.0.0.1:8053", &format!("{o}:8053"))
        .replace("127.0.0.1:8060", &format!("{o}:8060"))
        .replace("127.1.0.1:", &format!("{}:", slot.ip(1)))
        .replace("127.2.0.1:", &format!("{}:", slot.ip(2)))
        .replace("127.3.0.1:", &format!("{}:", slot.ip(3)))
        .replace("timeout = \"500ms\", fall = 2", "timeout = \"10s\", fall = 2")
        .replace("data/{world}/{edge}", &format!("{}/{{edge}}", dir.display()));
    assert!(text.contains("timeout = \"10s\", fall = 2"), "the demo world's health line changed");
    let p = dir.join("world.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Processes whose command line mentions `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
            && pid != std::process::id()
        {
            out.push(pid);
        }
    }
    out
}

/// Waits for `cdn up`'s line saying it is up; its stdout lines so far.
pub fn wait_for_up(child: &mut std::process::Child) -> Vec<String> {
    wait_for_line(child, "Ctrl-C stops everything")
}

/// Waits for a stdout line of `child` containing `done` (within twice
/// [`tests::PATIENCE`]); its stdout lines so far, that one included.
pub fn wait_for_line(child: &mut std::process::Child, done: &str) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + 2 * tests::PATIENCE;
    let mut lines = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            let last = l.contains(done);
            lines.push(l);
            if last {
                return lines;
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("cdn up exited early ({s}): {lines:?}");
        }
    }
    panic!("cdn up did not come up: {lines:?}");
}
