//! The admin APIs' bearer token: the check every component shares, and
//! tokens generated for an edge that was given none.
//!
//! A mutating admin route (an edge's purge, the origin's faults and bumps)
//! is never served without a token: [`check_bearer`] with no token
//! configured refuses with [`Denied::Off`] (403). An edge without a
//! configured token generates one instead and keeps it in
//! `{data_dir}/admin-token` (mode 0600), where `cdn purge` finds it
//! ([`token_file`], [`load_or_create_token`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why an admin request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token is configured: the route is off (403).
    Off,
    /// No `Authorization` header (401).
    Missing,
    /// Not `Bearer <token>` (401).
    Malformed,
    /// The wrong token (401).
    Wrong,
}

impl Denied {
    /// The reason to give in the response.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Off => {
                "this admin API is off: no admin token is configured (set admin_token in the world file or \
                 CDNLAB_ADMIN_TOKEN)"
            }
            Denied::Missing => "missing Authorization: Bearer <token>",
            Denied::Malformed => "Authorization must be `Bearer <token>`",
            Denied::Wrong => "wrong admin token",
        }
    }

    /// The HTTP status: 403 when the route is off, 401 otherwise.
    pub fn status(self) -> http::StatusCode {
        match self {
            Denied::Off => http::StatusCode::FORBIDDEN,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// Checks `Authorization: Bearer <token>` against `want`; with no token
/// configured nobody may. The comparison runs in constant time (over
/// SHA-256 digests, so lengths leak nothing either).
pub fn check_bearer(want: Option<&str>, headers: &HeaderMap) -> Result<(), Denied> {
    let Some(want) = want.filter(|w| !w.is_empty()) else { return Err(Denied::Off) };
    let value = headers.get(header::AUTHORIZATION).ok_or(Denied::Missing)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or(Denied::Malformed)?;
    let (given, want) = (Sha256::digest(token.as_bytes()), Sha256::digest(want.as_bytes()));
    if bool::from(given.as_slice().ct_eq(want.as_slice())) { Ok(()) } else { Err(Denied::Wrong) }
}

/// The file in a data directory holding the edge's generated token.
pub const TOKEN_FILE: &str = "admin-token";

/// `{dir}/admin-token`.
pub fn token_file(dir: &Path) -> PathBuf {
    dir.join(TOKEN_FILE)
}

/// A new random token: 32 hex digits from the kernel's generator.
pub fn generate_token() -> io::Result<String> {
    let mut b = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Reads a token file: `Ok(None)` when there is none; an error when it is
/// unreadable, not a token, or readable by others (not 0600).
pub fn read_token_file(path: &Path) -> io::Result<Option<String>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "{} is readable by others (mode {mode:o}); chmod 600 it",
            path.display()
        )));
    }
    let t = text.trim();
    world::bounds::check_token(t).map_err(|_| io::Error::other(format!("{} does not hold a token", path.display())))?;
    Ok(Some(t.to_string()))
}

/// The token in `{dir}/admin-token`, created (0600, fsynced) with a new
/// random token when there is none; says whether it was created.
pub fn load_or_create_token(dir: &Path) -> io::Result<(String, bool)> {
    let path = token_file(dir);
    if let Some(t) = read_token_file(&path)? {
        return Ok((t, false));
    }
    fs::create_dir_all(dir)?;
    let token = generate_token()?;
    let tmp = dir.join(format!("{TOKEN_FILE}.tmp"));
    let _ = fs::remove_file(&tmp);
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(format!("{token}\n").as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok((token, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::AUTHORIZATION, http::HeaderValue::from_static(v));
        m
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        assert_eq!(check_bearer(Some("s3"), &h("Bearer s3")), Ok(()));
        assert_eq!(check_bearer(Some("s3"), &h("bearer  s3 ")), Ok(()));
        assert_eq!(check_bearer(Some("s3"), &h("Bearer s4")), Err(Denied::Wrong));
        assert_eq!(check_bearer(Some("s3"), &h("Basic s3")), Err(Denied::Malformed));
        assert_eq!(check_bearer(Some("s3"), &HeaderMap::new()), Err(Denied::Missing));
    }

    #[test]
    fn without_a_token_the_route_is_off_for_everyone() {
        for headers in [HeaderMap::new(), h("Bearer "), h("Bearer anything")] {
            let d = check_bearer(None, &headers).unwrap_err();
            assert_eq!((d, d.status().as_u16()), (Denied::Off, 403));
            assert_eq!(check_bearer(Some(""), &headers), Err(Denied::Off));
        }
        assert!(Denied::Off.reason().contains("CDNLAB_ADMIN_TOKEN"));
    }

    #[test]
    fn a_generated_token_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (t, created) = load_or_create_token(dir.path()).unwrap();
        assert!(created && t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()), "{t}");
        let mode = fs::metadata(token_file(dir.path())).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create_token(dir.path()).unwrap(), (t.clone(), false));
        assert_ne!(generate_token().unwrap(), t);
        fs::set_permissions(token_file(dir.path()), fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token_file(&token_file(dir.path())).unwrap_err();
        assert!(e.to_string().contains("readable by others"), "{e}");
    }
}
