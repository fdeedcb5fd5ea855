//! Cache keys: a request target in its canonical form ([`api::key`]: the
//! rules, shared with purges). The same string is the key *and* the
//! target the origin is sent, so whatever the origin answers is stored
//! under exactly the request it answered. The host is not part of the
//! key: an edge fronts one origin and sends it the host configured for it
//! ([`crate::headers::to_origin`]).

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

pub use api::key::{KeyError, MAX_KEY_LEN, is_normal, prefix_form};
use api::key::{canonical_target, uri_target};
use http::Uri;

/// A canonical request target: `/path?query`, also what the origin is sent.
///
/// Shared, not copied: the memory tier's record, the purge index and its
/// tag sets hold the same key, a million of them on a full edge
/// (docs/memory.md), so a clone is a reference count.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(Arc<str>);

impl CacheKey {
    /// The key for a request URI: origin-form (`/a?b`) or absolute-form
    /// (`http://host/a?b`, whose authority is ignored like `Host`).
    pub fn from_uri(uri: &Uri) -> Result<CacheKey, KeyError> {
        CacheKey::from_target(uri_target(uri)?)
    }

    /// The key for a request target (`/path?query`; a `#fragment` is cut).
    pub fn from_target(target: &str) -> Result<CacheKey, KeyError> {
        canonical_target(target).map(|t| CacheKey(t.into()))
    }

    /// The key as a string: also the request target sent to the origin.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path part, without the query.
    pub fn path(&self) -> &str {
        let p = self.primary();
        p.split_once('?').map_or(p, |(p, _)| p)
    }

    /// A derived key (`{self}\0{suffix}`) for data that belongs to this one
    /// (slices, HEAD validations); never equal to a request target.
    pub fn with_suffix(&self, suffix: &str) -> CacheKey {
        CacheKey(format!("{}\0{suffix}", self.0).into())
    }

    /// The key of slice `i` of the object stored under this key (objects
    /// fetched in slices, [`crate::slice`], and bodies sliced on disk).
    pub fn slice_key(&self, i: u64) -> CacheKey {
        self.with_suffix(&format!("slice={i}"))
    }

    /// The URL part of a key: a variant or derived key without its suffixes.
    pub fn primary(&self) -> &str {
        self.0.split('\0').next().unwrap_or(&self.0)
    }

    /// Wraps an already normalised string (from storage).
    pub(crate) fn from_stored(s: String) -> CacheKey {
        CacheKey(s.into())
    }
}

impl Borrow<str> for CacheKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> String {
        CacheKey::from_target(s).unwrap().as_str().to_string()
    }

    fn refused(s: &str) -> bool {
        matches!(CacheKey::from_target(s), Err(KeyError::Invalid(_)))
    }

    #[test]
    fn equivalent_spellings_share_a_key() {
        assert_eq!(k("/%7Euser/a"), "/~user/a");
        assert_eq!(k("/a%2fb"), "/a%2Fb");
        assert_eq!(k("/a%2Fb"), "/a%2Fb");
        assert_eq!(k("/obj/%31"), "/obj/1");
        assert_eq!(k("/obj/1?"), "/obj/1");
        assert_eq!(k("/obj/1#frag"), "/obj/1");
        assert_eq!(k("/q?a=%7e&b=%2f"), "/q?a=~&b=%2F");
    }

    #[test]
    fn raw_non_ascii_and_unsafe_bytes_are_percent_encoded() {
        assert_eq!(k("/obj/é"), "/obj/%C3%A9");
        assert_eq!(k("/obj/%c3%a9"), "/obj/%C3%A9");
        assert_eq!(k("/a b\"{|}\\^`[]"), "/a%20b%22%7B%7C%7D%5C%5E%60%5B%5D");
        assert_eq!(k("/a?x=é y"), "/a?x=%C3%A9%20y");
    }

    #[test]
    fn dot_segments_are_removed_from_the_path_only() {
        assert_eq!(k("/a/./b/../c"), "/a/c");
        assert_eq!(k("/a/b/.."), "/a/");
        assert_eq!(k("/a/b/."), "/a/b/");
        assert_eq!(k("/../../x"), "/x");
        assert_eq!(k("/.."), "/");
        assert_eq!(k("/a//../b"), "/a/b");
        assert_eq!(k("/x/%2E%2e/obj/1"), "/obj/1");
        assert_eq!(k("/a?p=/../b"), "/a?p=/../b");
        assert_eq!(k("/.well-known/x"), "/.well-known/x");
        assert_eq!(k("/a/...b/c"), "/a/...b/c");
    }

    #[test]
    fn traversal_an_origin_might_decode_is_refused() {
        for t in ["/a/..;/b", "/a/.;x/b", "/a/..%2Fb", "/a/b%2F..", "/a%5C..%5Cb", "/a/%2e%2e%2fb", "/a\\..\\b"] {
            assert!(refused(t), "{t}");
        }
        assert_eq!(k("/group%2Fproject/a"), "/group%2Fproject/a");
        assert_eq!(k("/a%2F.hidden"), "/a%2F.hidden");
    }

    #[test]
    fn query_is_part_of_the_key_in_order() {
        assert_ne!(k("/app.js?v=1"), k("/app.js?v=2"));
        assert_ne!(k("/a?x=1&y=2"), k("/a?y=2&x=1"));
        assert_eq!(CacheKey::from_target("/app.js?v=2").unwrap().path(), "/app.js");
    }

    #[test]
    fn broken_escapes_nul_and_non_paths_are_refused() {
        for t in ["/a%zz", "/a%2", "/a%", "*", "a/b", "/a%00b", "/a?x=%00", "/a\u{1}"] {
            assert!(refused(t), "{t}");
        }
        let long = format!("/{}", "a".repeat(MAX_KEY_LEN));
        assert_eq!(CacheKey::from_target(&long), Err(KeyError::TooLong));
        let grows = format!("/{}", "é".repeat(MAX_KEY_LEN / 3));
        assert_eq!(CacheKey::from_target(&grows), Err(KeyError::TooLong), "the limit applies to the encoded form");
    }

    /// Found by `fuzz/fuzz_targets/cache_key.rs`: `/a??` (the query `?`)
    /// was keyed `/a?`, whose own key is `/a`: normalising twice gave
    /// another key.
    #[test]
    fn only_an_empty_query_is_dropped_so_keys_are_their_own_keys() {
        assert_eq!(k("/a??"), "/a??");
        assert_eq!(k("/*/*??"), "/*/*??");
        for t in ["/a?", "/a??", "/a???", "/a?b?", "/%7E??"] {
            assert_eq!(k(&k(t)), k(t), "{t}");
        }
    }

    #[test]
    fn absolute_form_uris_key_on_their_path_and_other_forms_are_refused() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(CacheKey::from_uri(&uri("http://evil.example/a/%31?q")).unwrap().as_str(), "/a/1?q");
        assert_eq!(CacheKey::from_uri(&uri("http://evil.example")).unwrap().as_str(), "/");
        assert!(CacheKey::from_uri(&uri("evil.example:443")).is_err());
        assert!(CacheKey::from_uri(&uri("ftp://evil.example/a")).is_err());
    }

    #[test]
    fn normal_targets_are_their_own_key() {
        for t in ["/obj/1?x=2", "/", "/a/b/", "/.well-known/x", "/a?../b", "/a/..b", "/a;p=1/b", "/a/.../b"] {
            assert!(is_normal(t), "{t}");
            assert_eq!(k(t), t);
        }
        for t in ["/a%7E", "/a?", "/a/./b", "/a/..", "/a/.", "/a/..;/b", "/é", "/a b", "/a#b", "a", "/a/.?x"] {
            assert!(!is_normal(t), "{t}");
        }
    }

    /// A small seeded generator: every target built from tricky pieces is
    /// either refused or canonical, canonicalising again changes nothing,
    /// and `is_normal` agrees with the canonical form.
    #[test]
    fn canonical_form_is_a_fixed_point_for_generated_targets() {
        const PIECES: [&str; 24] = [
            "/", "a", ".", "..", "%2e", "%2E%2e", "%2F", "%2f", "%5C", "%41", "%7e", "é", "%C3%A9", " ", "?", "=", "&",
            ";", "..;", "%00", "%", "%zz", "\\", "~",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut t = String::from("/");
            for _ in 0..(next() % 8) {
                t.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            match CacheKey::from_target(&t) {
                Ok(key) => {
                    let c = key.as_str();
                    assert!(is_normal(c) || c.contains('%') || c.ends_with('?'), "{t:?} → {c:?}");
                    assert_eq!(k(c), c, "{t:?} → {c:?} is a fixed point");
                    assert!(c.parse::<http::uri::PathAndQuery>().is_ok(), "{c:?} is a valid target");
                    if is_normal(&t) {
                        assert_eq!(c, t);
                    }
                }
                Err(_) => assert!(!is_normal(&t), "{t:?}"),
            }
        }
    }
}
