//! A scenario workload read from a request trace (`[workload] trace =
//! "FILE"`) instead of the synthetic generator.
//!
//! - Objects: request `(key, size)` becomes `GET /t/{key}/{size}`, which the
//!   origin serves for any key with exactly `size` bytes (a deterministic
//!   body with a valid `Content-Digest`). A key requested with two sizes is
//!   two objects, as it would be for any cache keyed on the URL.
//! - Time: trace timestamps are simulated time; a request is sent
//!   `(t − t₀) / time_scale` wall seconds after the start (the world's time
//!   scale, or the scenario's `time_scale`). Requests whose time has
//!   passed (a slow driver, an unsorted trace) are sent at once.
//! - Clients: each request gets a region drawn from the `clients` shares
//!   by a hash of the trace's client id (so one client always lands in one
//!   region) or, when the trace has none, of the request's position; both
//!   salted with the scenario seed. The source address in the region comes
//!   from the same hash.
//! - Only reads of size > 0 are sent (as `cdn replay` replays them).
//! - With your own origin (`origin.url`), each request is for the trace's
//!   own URL ([`Reader::key_text`]: a log line's path, a csv key), sent as
//!   written; a trace without URLs (oracle, Wikimedia) is refused.

use std::path::Path;
use std::time::Duration;

use cachesim::trace::Reader;
use world::World;
use world::rng::mix as mix64;

use crate::scenario::{Scenario, trace_sends};
use crate::workload::Planned;

/// The region index (in the world) and source slot of a request: `h` is
/// the request's hash, `shares` the regions' (index, share) in order.
pub fn place(h: u64, shares: &[(usize, f64)], sources: u32) -> (usize, u32) {
    let total: f64 = shares.iter().map(|s| s.1).sum();
    let mut pick = (h >> 11) as f64 / (1u64 << 53) as f64 * total;
    let mut region = shares.last().map_or(0, |s| s.0);
    for &(i, share) in shares {
        if pick < share {
            region = i;
            break;
        }
        pick -= share;
    }
    (region, (mix64(h) % sources.max(1) as u64) as u32)
}

/// The planned requests of a trace workload, streamed from the file.
pub fn plan(path: &Path, s: &Scenario, w: &World) -> impl Iterator<Item = Planned> + Send + use<> {
    let wl = &s.workload;
    let shares: Vec<(usize, f64)> = wl
        .clients
        .iter()
        .filter_map(|(name, share)| Some((w.regions.iter().position(|r| &r.name == name)?, *share)))
        .filter(|s| s.1 > 0.0)
        .collect();
    let mut reader = wl.trace_format(path).ok().and_then(|f| Reader::open(path, &f).ok());
    let (seed, sources, scale) = (s.seed, wl.sources_per_region, w.time_scale.max(1e-9));
    let own = s.origin.url.is_some();
    let mut t0 = None;
    let mut index = 0u64;
    std::iter::from_fn(move || {
        let reader = reader.as_mut()?;
        loop {
            let r = reader.next()?.ok()?;
            if !trace_sends(&r, own) {
                continue;
            }
            let t0 = *t0.get_or_insert(r.time_ms);
            let h = mix64(seed ^ r.client.map_or_else(|| mix64(index), |c| mix64(c ^ 0x5bd1_e995)));
            index += 1;
            let (region, source) = place(h, &shares, sources);
            let sim_s = r.time_ms.saturating_sub(t0) as f64 / 1000.0;
            let path = match reader.key_text() {
                Some(k) if own => k.to_string(),
                _ => api::origin::trace_path(r.key, r.size),
            };
            return Some(Planned { at: Duration::from_secs_f64(sim_s / scale), region, source, path, flash: false });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_place_requests_in_proportion_and_clients_stay_put() {
        let shares = [(0usize, 3.0), (2usize, 1.0)];
        let mut n = [0u32; 3];
        for i in 0..40_000u64 {
            let (r, src) = place(mix64(i), &shares, 8);
            n[r] += 1;
            assert!(src < 8);
        }
        assert_eq!(n[1], 0);
        let first = n[0] as f64 / 40_000.0;
        assert!((first - 0.75).abs() < 0.01, "{first}");
        assert_eq!(place(mix64(7), &shares, 8), place(mix64(7), &shares, 8));
    }

    #[test]
    fn an_access_log_replayed_against_your_origin_requests_its_own_urls() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        std::fs::write(
            &log,
            "192.0.2.1 - - [06/Dec/2026:10:00:00 +0000] \"GET /a.css?v=2 HTTP/1.1\" 200 512 \"-\" \"curl\"\n\
             192.0.2.2 - - [06/Dec/2026:10:00:01 +0000] \"POST /form HTTP/1.1\" 200 10 \"-\" \"curl\"\n\
             192.0.2.1 - - [06/Dec/2026:10:00:02 +0000] \"GET /img/b.png HTTP/1.1\" 200 2048 \"-\" \"curl\"\n",
        )
        .unwrap();
        let text = |origin: &str| {
            format!(
                "name = \"t\"\nseed = 2\n{origin}\n[workload]\ntrace = \"{}\"\nclients = {{ seoul = 1.0 }}\n",
                log.display()
            )
        };
        let w = World::demo().unwrap();
        let (s, w2) =
            crate::scenario::parse_text("s.toml", &text("[origin]\nurl = \"http://127.0.0.1:3000\""), &w).unwrap();
        let got: Vec<(String, u64)> = plan(&log, &s, &w2).map(|p| (p.path, p.at.as_secs())).collect();
        assert_eq!(
            got,
            [("/a.css?v=2".to_string(), 0), ("/img/b.png".to_string(), 2)],
            "reads only, at the log's pace"
        );
        let (s, w2) = crate::scenario::parse_text("s.toml", &text(""), &w).unwrap();
        let got: Vec<String> = plan(&log, &s, &w2).map(|p| p.path).collect();
        assert!(
            got.len() == 2 && got.iter().all(|p| p.starts_with("/t/")),
            "cdnlab's origin serves trace objects: {got:?}"
        );
    }
}
