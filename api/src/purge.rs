//! What a purge asks for, as the admin API receives it and as the purge log
//! stores it: one target (an exact URL with all its variants, a key prefix,
//! a surrogate key, or everything), hard or soft.
//!
//! Targets are matched against *store keys*: the normalised `path?query`
//! of a request target ([`crate::key`]), and for the derived keys of a URL (Vary variants, later
//! slices of large objects) that primary followed by `\0…`. A URL purge
//! therefore takes every key whose primary is the URL, and a prefix purge
//! every key that starts with the prefix, variants and slices included, by
//! construction.

pub use crate::edge::PurgeRequest;

use crate::key::canonical_target;

/// Longest accepted surrogate key (tag).
pub const MAX_TAG_LEN: usize = 1024;

/// What a purge targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One URL (normalised `path?query`): its key, its `VarySpec`, every
    /// variant and slice key.
    Url(String),
    /// Every key starting with this (normalised) string.
    Prefix(String),
    /// Every response carrying this surrogate key (`Surrogate-Key`, `Cache-Tag`).
    Tag(String),
    /// Everything.
    All,
}

impl Target {
    /// `url`, `prefix`, `tag` or `all`: the same words in the API, the CLI and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Url(_) => "url",
            Target::Prefix(_) => "prefix",
            Target::Tag(_) => "tag",
            Target::All => "all",
        }
    }

    /// The URL, prefix or tag ("" for all).
    pub fn pattern(&self) -> &str {
        match self {
            Target::Url(s) | Target::Prefix(s) | Target::Tag(s) => s,
            Target::All => "",
        }
    }

    /// Whether a stored value under `key` with `tags` is covered.
    pub fn matches(&self, key: &str, tags: &[String]) -> bool {
        match self {
            Target::Url(u) => primary_is(key, u),
            Target::Prefix(p) => key.starts_with(p.as_str()),
            Target::Tag(t) => tags.iter().any(|x| x == t),
            Target::All => true,
        }
    }

    /// Whether an origin fetch for primary key `key` (tags not known yet)
    /// might produce something this purge covers.
    pub fn may_match_fetch(&self, key: &str) -> bool {
        match self {
            Target::Url(u) => primary_is(key, u),
            Target::Prefix(p) => key.starts_with(p.as_str()),
            Target::Tag(_) | Target::All => true,
        }
    }
}

/// Whether `key` is `url` or one of its derived keys (`url\0…`).
pub fn primary_is(key: &str, url: &str) -> bool {
    key.strip_prefix(url).is_some_and(|rest| rest.is_empty() || rest.starts_with('\0'))
}

/// One purge: a target, hard or soft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeSpec {
    /// What to purge.
    pub target: Target,
    /// Soft: mark stale (the next request revalidates) instead of removing.
    pub soft: bool,
}

impl PurgeSpec {
    /// `hard` or `soft`.
    pub fn mode(&self) -> &'static str {
        if self.soft { "soft" } else { "hard" }
    }
}

/// Why a purge request is refused (answered 400 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// None or several of url/prefix/tag/all.
    #[error("say exactly one of `url`, `prefix`, `tag` or `all: true` (got {0})")]
    Kinds(String),
    /// `all: false`.
    #[error("`all` must be true (to purge a part of the cache use `url`, `prefix` or `tag`)")]
    AllFalse,
    /// A URL or prefix that is not a path.
    #[error("{0} `{1}`: {2}")]
    Path(&'static str, String, String),
    /// A bad tag.
    #[error("tag `{0}`: {1}")]
    Tag(String, &'static str),
}

impl From<&PurgeSpec> for PurgeRequest {
    /// A request for a spec (what the CLI sends).
    fn from(s: &PurgeSpec) -> PurgeRequest {
        let mut r = PurgeRequest { soft: s.soft, ..Default::default() };
        match &s.target {
            Target::Url(u) => r.url = Some(u.clone()),
            Target::Prefix(p) => r.prefix = Some(p.clone()),
            Target::Tag(t) => r.tag = Some(t.clone()),
            Target::All => r.all = Some(true),
        }
        r
    }
}

impl TryFrom<&PurgeRequest> for PurgeSpec {
    type Error = SpecError;

    /// Checks and normalises the request.
    fn try_from(r: &PurgeRequest) -> Result<PurgeSpec, SpecError> {
        let given: Vec<&str> = [
            r.url.as_ref().map(|_| "url"),
            r.prefix.as_ref().map(|_| "prefix"),
            r.tag.as_ref().map(|_| "tag"),
            r.all.map(|_| "all"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() != 1 {
            let got = if given.is_empty() { "none".to_string() } else { given.join(" and ") };
            return Err(SpecError::Kinds(got));
        }
        let target = if let Some(u) = &r.url {
            Target::Url(normal_path("url", u, true)?)
        } else if let Some(p) = &r.prefix {
            Target::Prefix(normal_path("prefix", p, false)?)
        } else if let Some(t) = &r.tag {
            Target::Tag(check_tag(t)?)
        } else if r.all == Some(true) {
            Target::All
        } else {
            return Err(SpecError::AllFalse);
        };
        Ok(PurgeSpec { target, soft: r.soft })
    }
}

/// The normalised form of a URL or prefix, as the cache keys it.
fn normal_path(what: &'static str, s: &str, is_url: bool) -> Result<String, SpecError> {
    let bad = |why: &str| SpecError::Path(what, s.to_string(), why.to_string());
    let mut path = s.trim();
    if is_url && let Some(rest) = path.strip_prefix("http://").or_else(|| path.strip_prefix("https://")) {
        path = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    if let Some(i) = path.find('#') {
        path = &path[..i];
    }
    if !path.starts_with('/') {
        return Err(bad("must start with `/`"));
    }
    if path.bytes().any(|b| b.is_ascii_control()) {
        return Err(bad("contains control characters"));
    }
    if !is_url {
        // A prefix is matched against keys as a string: normalise its
        // escapes and encode what keys encode, but keep its dot-segments
        // (removing them could widen `/a/..` to `/`; keys have none, so a
        // prefix with one matches nothing).
        return crate::key::prefix_form(path).map_err(|e| bad(&e.to_string()));
    }
    // The same canonical form a request for this URL is keyed (and sent) as:
    // `/obj/é`, `/obj/%C3%A9` and `/obj/%c3%a9` purge one object.
    canonical_target(path).map_err(|e| bad(&e.to_string()))
}

fn check_tag(t: &str) -> Result<String, SpecError> {
    let bad = |why| SpecError::Tag(t.to_string(), why);
    let t = t.trim();
    if t.is_empty() {
        return Err(bad("must not be empty"));
    }
    if t.len() > MAX_TAG_LEN {
        return Err(bad("longer than 1024 bytes"));
    }
    if t.chars().any(|c| c.is_whitespace() || c == ',' || c.is_control()) {
        return Err(bad("a surrogate key has no spaces or commas"));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<PurgeSpec, String> {
        let r: PurgeRequest = serde_json::from_str(json).map_err(|e| e.to_string())?;
        PurgeSpec::try_from(&r).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_parses_and_normalises() {
        assert_eq!(spec(r#"{"url":"/obj/%37?x=1"}"#).unwrap().target, Target::Url("/obj/7?x=1".into()));
        assert_eq!(spec(r#"{"url":"http://cdn.test/a?"}"#).unwrap().target, Target::Url("/a".into()));
        assert_eq!(spec(r#"{"prefix":"/img/"}"#).unwrap().target, Target::Prefix("/img/".into()));
        assert_eq!(spec(r#"{"prefix":"/a?"}"#).unwrap().target, Target::Prefix("/a?".into()));
        assert_eq!(spec(r#"{"prefix":"/a??"}"#).unwrap().target, Target::Prefix("/a??".into()));
        assert_eq!(spec(r#"{"url":"/a??"}"#).unwrap().target, Target::Url("/a??".into()));
        assert_eq!(
            spec(r#"{"tag":"product-42","soft":true}"#).unwrap(),
            PurgeSpec { target: Target::Tag("product-42".into()), soft: true }
        );
        assert_eq!(spec(r#"{"all":true}"#).unwrap().target, Target::All);
    }

    #[test]
    fn bad_requests_say_why() {
        assert!(spec("{}").unwrap_err().contains("exactly one"));
        assert!(spec(r#"{"url":"/a","tag":"x"}"#).unwrap_err().contains("url and tag"));
        assert!(spec(r#"{"regex":".*"}"#).unwrap_err().contains("unknown field `regex`"));
        assert!(spec(r#"{"all":false}"#).unwrap_err().contains("must be true"));
        assert!(spec(r#"{"url":"obj/1"}"#).unwrap_err().contains("start with `/`"));
        assert!(spec(r#"{"url":"/a%zz"}"#).unwrap_err().contains("broken percent-escape"));
        assert!(spec(r#"{"url":"/a%00"}"#).unwrap_err().contains("NUL"));
        assert!(spec(r#"{"tag":""}"#).unwrap_err().contains("empty"));
        assert!(spec(r#"{"tag":"a b"}"#).unwrap_err().contains("spaces"));
        assert!(spec(r#"{"url":7}"#).unwrap_err().contains("invalid type"));
    }

    #[test]
    fn urls_and_prefixes_take_the_form_requests_are_keyed_in() {
        // A request for `/obj/é` (raw UTF-8 or encoded, any case) is keyed
        // `/obj/%C3%A9`: a purge of any spelling must name that key.
        for u in ["/obj/é", "/obj/%C3%A9", "/obj/%c3%a9", "http://cdn.test/obj/é"] {
            let j = serde_json::json!({ "url": u }).to_string();
            assert_eq!(spec(&j).unwrap().target, Target::Url("/obj/%C3%A9".into()), "{u}");
        }
        assert_eq!(spec(r#"{"url":"/a/./b/../c"}"#).unwrap().target, Target::Url("/a/c".into()));
        assert_eq!(spec(r#"{"url":"/my file"}"#).unwrap().target, Target::Url("/my%20file".into()));
        let p = |j: &str| spec(j).unwrap().target;
        assert_eq!(p(r#"{"prefix":"/img/é"}"#), Target::Prefix("/img/%C3%A9".into()));
        assert_eq!(p(r#"{"prefix":"/a%2f"}"#), Target::Prefix("/a%2F".into()));
        assert_eq!(p(r#"{"prefix":"/a%c"}"#), Target::Prefix("/a%C".into()), "an escape the keys complete");
        assert_eq!(p(r#"{"prefix":"/a/.."}"#), Target::Prefix("/a/..".into()), "never widened to `/`");
    }

    #[test]
    fn urls_cover_their_variants_and_slices_only() {
        let t = Target::Url("/obj/7".into());
        assert!(t.matches("/obj/7", &[]));
        assert!(t.matches("/obj/7\0accept-encoding=gzip", &[]));
        assert!(t.matches("/obj/7\0slice=3", &[]));
        assert!(!t.matches("/obj/70", &[]));
        assert!(!t.matches("/obj/7?v=2", &[]));
        let p = Target::Prefix("/obj/7".into());
        assert!(p.matches("/obj/70", &[]) && p.matches("/obj/7?v=2", &[]) && !p.matches("/obj/8", &[]));
        let tag = Target::Tag("g".into());
        assert!(tag.matches("/x", &["a".into(), "g".into()]) && !tag.matches("/x", &["gg".into()]));
        assert!(tag.may_match_fetch("/anything"));
    }

    #[test]
    fn requests_round_trip_through_json() {
        for s in [
            PurgeSpec { target: Target::Url("/a?b=1".into()), soft: false },
            PurgeSpec { target: Target::Prefix("/img/".into()), soft: true },
            PurgeSpec { target: Target::Tag("t".into()), soft: false },
            PurgeSpec { target: Target::All, soft: true },
        ] {
            let json = serde_json::to_string(&PurgeRequest::from(&s)).unwrap();
            let back: PurgeRequest = serde_json::from_str(&json).unwrap();
            assert_eq!(PurgeSpec::try_from(&back).unwrap(), s, "{json}");
        }
    }
}
