//! One fetch as the network model predicts it, for comparing with what a
//! client measured (bench/pacing-accuracy.sh feeds it curl's sizes):
//!
//! ```sh
//! cargo run -p world --example predict -- tokyo seoul 300 1000400
//! # cold_ttfb_ms cold_total_ms warm_ttfb_ms warm_total_ms cold_request_ms warm_request_ms
//! ```
//!
//! Arguments: the client's region, the server's region (demo world), the
//! request's bytes and the response's bytes (head included). "warm" is the
//! next fetch of the same size on that connection right after the first;
//! `*_request_ms`: when the server has the request (handshakes, upload).

use std::time::{Duration, UNIX_EPOCH};

use world::World;
use world::transfer::{Conn, plan};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [from, to, req, resp] = &args[..] else {
        eprintln!("usage: predict FROM_REGION TO_REGION REQUEST_BYTES RESPONSE_BYTES");
        std::process::exit(2);
    };
    let w = World::demo().unwrap_or_else(|e| {
        eprintln!("the demo world: {e}");
        std::process::exit(1)
    });
    let Some(link) = w.link(from, to) else {
        eprintln!("no link between `{from}` and `{to}`");
        std::process::exit(2);
    };
    let (Ok(req), Ok(resp)) = (req.parse::<u64>(), resp.parse::<u64>()) else {
        eprintln!("bytes must be whole numbers");
        std::process::exit(2);
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let cold = plan(&link, &Conn::Cold, req, resp, now, 0);
    let warm = plan(&link, &cold.after(), req, resp, now + cold.total(), 0);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:.2} {:.2} {:.2} {:.2} {:.2} {:.2}",
        ms(cold.ttfb()),
        ms(cold.total()),
        ms(warm.ttfb()),
        ms(warm.total()),
        ms(cold.request_at_server),
        ms(warm.request_at_server)
    );
}
