//! Where cdnlab servers may listen: loopback (127.0.0.0/8, ::1) unless the
//! operator says otherwise with `--allow-non-loopback`. Every listener of
//! the edge (public and admin), the origin (public and admin) and GeoDNS
//! (DNS and HTTP) goes through [`check`] before it binds, so an address
//! typed by mistake (`--admin 0.0.0.0:9080`) never exposes a purge or
//! fault API to the network.

use std::net::SocketAddr;

/// The flag that allows listening on addresses other than loopback.
pub const ALLOW_FLAG: &str = "--allow-non-loopback";

/// `Ok` when `addr` is on loopback or `allow` is set; otherwise an error
/// naming the flag that set the address and the one that would allow it.
pub fn check(flag: &str, addr: SocketAddr, allow: bool) -> Result<(), String> {
    if allow || addr.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "{flag} {addr}: not a loopback address; cdnlab listens on loopback only (127.0.0.0/8 or ::1) \
         unless started with {ALLOW_FLAG}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_passes_unless_allowed() {
        let any: SocketAddr = "0.0.0.0:9080".parse().unwrap();
        let lo: SocketAddr = "127.3.0.1:9080".parse().unwrap();
        let v6: SocketAddr = "[::1]:53".parse().unwrap();
        assert_eq!(check("--admin", lo, false), Ok(()));
        assert_eq!(check("--dns", v6, false), Ok(()));
        let e = check("--admin", any, false).unwrap_err();
        assert!(e.starts_with("--admin 0.0.0.0:9080: not a loopback address") && e.contains(ALLOW_FLAG), "{e}");
        assert_eq!(check("--admin", any, true), Ok(()));
    }
}
