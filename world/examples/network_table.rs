//! Prints docs/network.md's tables of predicted time to first byte and
//! total time, straight from the model (`world::transfer`):
//!
//! ```sh
//! cargo run -p world --example network_table
//! ```
//!
//! "cold" opens the connection; "warm" is the next fetch of the same size on
//! that connection right after it (the window the first one left, no idle).

use std::time::{Duration, UNIX_EPOCH};

use world::link::Link;
use world::transfer::{Conn, plan};
use world::{Bandwidth, World};

const SIZES: [(u64, &str); 4] = [(10_000, "10 kB"), (100_000, "100 kB"), (1_000_000, "1 MB"), (10_000_000, "10 MB")];
/// A GET with a few headers, as curl sends it.
const REQUEST: u64 = 100;

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn table(title: &str, links: &[(&str, Link)]) {
    println!("{title}\n");
    println!("| size | link | rounds cold / warm | cold TTFB ms | cold total ms | warm TTFB ms | warm total ms |");
    println!("|---|---|---|---|---|---|---|");
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for (name, link) in links {
        for (bytes, size) in SIZES {
            let cold = plan(link, &Conn::Cold, REQUEST, bytes, now, 1);
            let warm = plan(link, &cold.after(), REQUEST, bytes, now + cold.total(), 2);
            println!(
                "| {size} | {name} | {} / {} | {} | {} | {} | {} |",
                cold.response.round_count,
                warm.response.round_count,
                ms(cold.ttfb()),
                ms(cold.total()),
                ms(warm.ttfb()),
                ms(warm.total())
            );
        }
    }
    println!();
}

fn main() -> Result<(), world::FileError> {
    let ideal = |ms| Link { tls: true, ..Link::ideal(Duration::from_millis(ms)) };
    table("Round trips only (TLS, unlimited bandwidth, no loss):", &[("150 ms", ideal(150))]);
    let w = World::demo()?;
    let mut demo = Vec::new();
    for (a, b) in [("tokyo", "tokyo"), ("seoul", "tokyo"), ("tokyo", "newyork"), ("seoul", "newyork")] {
        let l = w.link(a, b).ok_or_else(|| world::FileError {
            file: "demo".into(),
            at: None,
            message: format!("no link {a}–{b}"),
            more: Vec::new(),
        })?;
        demo.push((format!("{a}–{b} {} ms", l.rtt.as_millis()), l));
    }
    let demo: Vec<(&str, Link)> = demo.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    table(
        &format!("The demo world's links (defaults: {} bottleneck, TLS, no loss, no jitter):", Bandwidth::mbit(100)),
        &demo,
    );
    Ok(())
}
