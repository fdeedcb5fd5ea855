//! The admin APIs' bearer token check, shared by every component.

use http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Checks `Authorization: Bearer <token>` against `want` (no token
/// configured: everyone may). The comparison runs in constant time (over
/// SHA-256 digests, so lengths leak nothing either). The error is the
/// reason to give in a 401.
pub fn check_bearer(want: Option<&str>, headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(want) = want else { return Ok(()) };
    let value = headers.get(header::AUTHORIZATION).ok_or("missing Authorization: Bearer <token>")?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or("Authorization must be `Bearer <token>`")?;
    let (given, want) = (Sha256::digest(token.as_bytes()), Sha256::digest(want.as_bytes()));
    if bool::from(given.as_slice().ct_eq(want.as_slice())) { Ok(()) } else { Err("wrong admin token") }
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
        assert_eq!(check_bearer(Some("s3"), &h("Bearer s4")), Err("wrong admin token"));
        assert_eq!(check_bearer(Some("s3"), &h("Basic s3")), Err("Authorization must be `Bearer <token>`"));
        assert_eq!(check_bearer(Some("s3"), &HeaderMap::new()), Err("missing Authorization: Bearer <token>"));
        assert_eq!(check_bearer(None, &HeaderMap::new()), Ok(()));
    }
}
