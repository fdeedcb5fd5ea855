//! The limits every number in a world or scenario file must respect, in
//! one place (docs/security.md lists them with their reasons).
//!
//! A limit keeps a value inside what the code can compute with (a
//! `Duration` from an RTT, a `u64` of milliseconds, an allocation) and
//! inside what a CDN on one machine can mean: a 10-second round trip is
//! already absurd, a terabyte of memory tier is not this machine. Files
//! out of bounds are refused on load with the file, line and field
//! ([`crate::toml_file::Problems`]); the `edge` flags that override sizes
//! go through [`check_cache_sizes`] too.

use std::time::Duration;

/// Largest `time_scale` (simulated seconds per wall second). Also the bound
/// the edge's purge recovery relies on: no valid world's clock runs faster.
pub const MAX_TIME_SCALE: f64 = 1e6;
/// Largest round-trip time, ms (a geostationary hop is ~600 ms).
pub const MAX_RTT_MS: f64 = 10_000.0;
/// Regions in a world (region k owns 127.k.0.0/16).
pub const MAX_REGIONS: usize = 250;
/// Edges in a world.
pub const MAX_EDGES: usize = 1000;
/// GeoIP networks of one region, trusted proxies of GeoDNS.
pub const MAX_NETWORKS: usize = 10_000;
/// Header or cache rules, price tiers: entries in one list.
pub const MAX_RULES: usize = 1000;
/// Smallest memory tier.
pub const MIN_MEMORY: u64 = 1 << 20;
/// Largest memory tier (1 TiB).
pub const MAX_MEMORY: u64 = 1 << 40;
/// Smallest disk tier other than 0 (off).
pub const MIN_DISK: u64 = 4 << 20;
/// Largest disk tier (64 TiB).
pub const MAX_DISK: u64 = 64 << 40;
/// Most disk blocks (foyer keeps one file per block: more means minutes of
/// start-up and as many open files).
pub const MAX_DISK_BLOCKS: u64 = 65_536;
/// Largest object stored whole, largest slice, largest catalog body (1 GiB).
pub const MAX_OBJECT: u64 = 1 << 30;
/// Smallest slice other than 0 (off).
pub const MIN_SLICE: u64 = 64 << 10;
/// Longest origin or connect timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Longest TTL, grace or stale window in a rule (ten years).
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Largest `min_uses`.
pub const MAX_MIN_USES: u32 = 1000;
/// Most idle upstream connections an edge keeps (each is a file descriptor).
pub const MAX_UPSTREAM_POOL: u32 = 65_536;
/// Most shadow caches per edge (each costs every sampled request an
/// update, docs/traces.md).
pub const MAX_SHADOWS: usize = 8;
/// Smallest `shadow_sample` (below it a shadow follows too few keys to
/// mean much on any traffic an edge here sees).
pub const MIN_SHADOW_SAMPLE: f64 = 0.001;
/// Longest `min_uses_window`.
pub const MAX_WINDOW: Duration = Duration::from_secs(30 * 86_400);
/// Longest DNS TTL.
pub const MAX_DNS_TTL: Duration = Duration::from_secs(86_400);
/// Longest health check interval.
pub const MAX_HEALTH_INTERVAL: Duration = Duration::from_secs(3600);
/// Longest health check timeout.
pub const MAX_HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest `fall` / `rise`.
pub const MAX_FALL_RISE: u32 = 100;
/// Largest catalog (`/obj/0` … `/obj/{n-1}`).
pub const MAX_CATALOG_OBJECTS: u64 = 1_000_000_000_000;
/// Largest number of group tags.
pub const MAX_GROUPS: u64 = 1_000_000;
/// Largest lognormal `sigma` of body sizes.
pub const MAX_SIGMA: f64 = 10.0;
/// Largest Pareto tail shape.
pub const MAX_TAIL: f64 = 100.0;
/// Longest admin token.
pub const MAX_TOKEN_LEN: usize = 256;

// Scenarios.

/// Highest request rate of a workload or flash crowd, per second (the load
/// driver on this machine tops out near 10k/s).
pub const MAX_RATE: f64 = 100_000.0;
/// Most requests of one run, counted or planned from rate × duration (the
/// driver plans them all up front, about 100 bytes each, and keeps one
/// sample per request).
pub const MAX_REQUESTS: u64 = 10_000_000;
/// Longest run, and latest event.
pub const MAX_DURATION: Duration = Duration::from_secs(86_400);
/// Most objects a workload draws from (its Zipf table holds 8 bytes each).
pub const MAX_WORKLOAD_OBJECTS: u64 = 10_000_000;
/// Largest Zipf exponent.
pub const MAX_ZIPF: f64 = 100.0;
/// Largest diurnal multiplier.
pub const MAX_DIURNAL: f64 = 100.0;
/// Most requests in flight.
pub const MAX_CONCURRENCY: usize = 10_000;
/// Most source addresses per region (127.k.1.1 … 127.k.1.250).
pub const MAX_SOURCES: u32 = 250;
/// Most events in one scenario.
pub const MAX_EVENTS: usize = 10_000;
/// Longest latency an `origin-slow` event may add (the origin's own limit).
pub const MAX_ADDED_LATENCY: Duration = Duration::from_secs(600);
/// Most values in a sweep.
pub const MAX_SWEEP_VALUES: usize = 100;

/// A number as an error message shows it: `1e300`, not 301 digits.
pub fn num(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e9).contains(&v.abs()) { format!("{v:e}") } else { format!("{v}") }
}

/// The disk block an edge uses for objects up to `max_object`: a block
/// holds whole entries, so it is the next power of two above the object
/// and its header room, at least 1 MiB.
pub fn disk_block(max_object: u64) -> u64 {
    max_object.saturating_add(256 * 1024).checked_next_power_of_two().unwrap_or(u64::MAX).max(1 << 20)
}

/// Largest disk write buffer (resident up to three times over).
pub const MAX_WRITE_BUFFER: u64 = 4 << 30;

/// Room for the largest entry of an edge whose objects are up to
/// `max_object`: the body and its headers, key and entry header (the disk
/// block leaves the same 256 KiB).
pub fn entry_room(max_object: u64) -> u64 {
    max_object.saturating_add(256 * 1024)
}

/// The disk tier's write buffer unless set: room for the largest entry
/// (a smaller buffer could never write it), at least 4 MiB so small
/// objects are batched.
pub fn write_buffer(set: Option<u64>, max_object: u64) -> u64 {
    set.unwrap_or_else(|| entry_room(max_object).max(4 << 20))
}

/// Checks a disk write buffer: room for the largest entry, at most
/// [`MAX_WRITE_BUFFER`].
pub fn check_write_buffer(buffer: u64, max_object: u64) -> Result<(), String> {
    use crate::ByteSize as B;
    let room = entry_room(max_object);
    if !(room..=MAX_WRITE_BUFFER).contains(&buffer) {
        return Err(format!(
            "disk_write_buffer {} must be between {} (max_object {} and 256KiB of headers) and {}",
            B(buffer),
            B(room),
            B(max_object),
            B(MAX_WRITE_BUFFER)
        ));
    }
    Ok(())
}

/// Checks an edge's cache sizes (from a world, a scenario override or
/// `edge` flags): the field at fault and why.
pub fn check_cache_sizes(memory: u64, disk: u64, max_object: u64) -> Result<(), (&'static str, String)> {
    use crate::ByteSize as B;
    if !(MIN_MEMORY..=MAX_MEMORY).contains(&memory) {
        return Err((
            "memory",
            format!("memory {} must be between {} and {}", B(memory), B(MIN_MEMORY), B(MAX_MEMORY)),
        ));
    }
    if max_object == 0 || max_object > MAX_OBJECT {
        return Err(("max_object", format!("max_object {} must be > 0 and at most {}", B(max_object), B(MAX_OBJECT))));
    }
    if disk != 0 && !(MIN_DISK..=MAX_DISK).contains(&disk) {
        return Err((
            "disk",
            format!("disk {} must be 0 (memory only) or between {} and {}", B(disk), B(MIN_DISK), B(MAX_DISK)),
        ));
    }
    let block = disk_block(max_object);
    if disk != 0 && disk / block > MAX_DISK_BLOCKS {
        return Err((
            "disk",
            format!(
                "disk {} is {} blocks of {} (for max_object {}); at most {MAX_DISK_BLOCKS} blocks",
                B(disk),
                disk / block,
                B(block),
                B(max_object)
            ),
        ));
    }
    Ok(())
}

/// Bytes a `Host` value may hold: `uri-host [":" port]` (reg-name, IPv4
/// or an IP literal in brackets; RFC 3986 §3.2.2): the unreserved and
/// sub-delim characters, `%`, `:`, `[` and `]`. The edge checks every
/// client's `Host` with it ([`valid_host`]) and worlds and flags their
/// origin's ([`check_origin_host`]): one rule for both.
pub const HOST_BYTES: [bool; 256] = {
    let ok = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%:[]";
    let mut t = [false; 256];
    let mut i = 0;
    while i < ok.len() {
        t[ok[i] as usize] = true;
        i += 1;
    }
    t
};

/// Whether `v` is a plausible `Host` value: no userinfo, path, spaces or
/// non-ASCII (empty is allowed, RFC 9110 §7.2).
#[inline]
pub fn valid_host(v: &[u8]) -> bool {
    v.len() <= 255 && v.iter().all(|&c| HOST_BYTES[c as usize])
}

/// Checks the `Host` an edge sends its origin (world `origin.host`,
/// `--origin-host`): a non-empty [`valid_host`]; the error says what it
/// must be (the caller names the value and where it came from).
pub fn check_origin_host(h: &str) -> Result<(), String> {
    if h.is_empty() || !valid_host(h.as_bytes()) {
        return Err("must be host[:port] (letters, digits, `-._~:[]`, no spaces or slashes)".into());
    }
    Ok(())
}

/// Checks an admin token: 1 to [`MAX_TOKEN_LEN`] visible ASCII characters
/// (it travels in an `Authorization` header).
pub fn check_token(t: &str) -> Result<(), String> {
    if t.is_empty() || t.len() > MAX_TOKEN_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("admin_token must be 1 to {MAX_TOKEN_LEN} visible ASCII characters (no spaces)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_out_of_bounds_name_their_field() {
        assert_eq!(check_cache_sizes(64 << 20, 256 << 20, 8 << 20), Ok(()));
        assert_eq!(check_cache_sizes(u64::MAX, 0, 1).unwrap_err().0, "memory");
        assert_eq!(check_cache_sizes(64 << 20, 1000 << 40, 8 << 20).unwrap_err().0, "disk");
        // 2 TiB of 16 MiB blocks is 131,072 files
        let (f, m) = check_cache_sizes(64 << 20, 2 << 40, 8 << 20).unwrap_err();
        assert!(f == "disk" && m.contains("131072 blocks"), "{m}");
        assert_eq!(check_cache_sizes(64 << 20, 0, 0).unwrap_err().0, "max_object");
    }

    #[test]
    fn a_write_buffer_holds_the_largest_entry() {
        assert_eq!(write_buffer(None, 8 << 20), (8 << 20) + (256 << 10), "default: room for the largest entry");
        assert_eq!(write_buffer(None, 64 << 10), 4 << 20, "at least 4 MiB");
        assert_eq!(write_buffer(Some(64 << 20), 8 << 20), 64 << 20);
        assert_eq!(check_write_buffer((8 << 20) + (256 << 10), 8 << 20), Ok(()));
        let m = check_write_buffer(8 << 20, 8 << 20).unwrap_err();
        assert!(m.contains("between 8448KiB (max_object 8MiB"), "{m}");
        assert!(check_write_buffer(MAX_WRITE_BUFFER + 1, 1).is_err());
        assert_eq!(check_write_buffer(write_buffer(None, MAX_OBJECT), MAX_OBJECT), Ok(()), "the largest default fits");
    }

    #[test]
    fn an_origin_host_is_host_and_port_only() {
        for ok in ["www.example", "127.0.0.1:3000", "[::1]:80", "localhost", "a-b.c_d~e"] {
            assert_eq!(check_origin_host(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "http://x", "x/y", "user@x", "é.example", "x\r\ny"] {
            let m = check_origin_host(bad).unwrap_err();
            assert!(m.contains("host[:port]"), "{bad}: {m}");
        }
        assert!(check_origin_host(&"a".repeat(256)).is_err(), "longer than 255");
    }

    #[test]
    fn disk_blocks_fit_the_largest_object() {
        assert_eq!(disk_block(8 << 20), 16 << 20);
        assert_eq!(disk_block(1), 1 << 20);
        assert_eq!(disk_block(u64::MAX), u64::MAX);
    }
}
