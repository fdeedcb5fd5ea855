//! The `Cache-Status` response header (RFC 9211), e.g.
//! `edge-seoul; hit; ttl=3512; detail=memory` or
//! `edge-seoul; fwd=miss; fwd-status=200; stored; collapsed`. Behind an
//! origin shield a fill's answer lists both caches, the shield's entry
//! first, as it sent it (RFC 9211 §2: in order, nearest the origin first):
//! `edge-newyork; fwd=uri-miss; fwd-status=200; stored, edge-seoul; fwd=uri-miss; fwd-status=200; stored`.

use http::HeaderValue;

use crate::freshness::Flags;
use crate::freshness::policy::lifetime_words;
use crate::meter::Outcome;
use crate::store::Tier;

/// Why the request went forward to the origin (RFC 9211 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// No stored response for the URL.
    UriMiss,
    /// Stored responses for the URL, none for this variant.
    VaryMiss,
    /// Generic miss.
    Miss,
    /// The request asked for it (`no-cache`, `max-age`, …).
    Request,
    /// The stored response was stale.
    Stale,
    /// Only part of the response was stored.
    Partial,
    /// Not cacheable: passed through.
    Bypass,
}

impl Fwd {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Fwd::UriMiss => "uri-miss",
            Fwd::VaryMiss => "vary-miss",
            Fwd::Miss => "miss",
            Fwd::Request => "request",
            Fwd::Stale => "stale",
            Fwd::Partial => "partial",
            Fwd::Bypass => "bypass",
        }
    }
}

/// What became of a request, as one value: the request path returns it
/// (with the response, [`crate::proxy::Served`]), and from it come the
/// `Cache-Status` header ([`CacheStatus::render`]), the `outcome` label
/// of the metrics and the access log's word ([`CacheStatus::outcome`],
/// [`Outcome::as_str`]): they cannot disagree.
///
/// The `hit` parameter is not a field: a response is a hit when its
/// outcome is served from the cache ([`Outcome::Hit`], [`Outcome::Stale`])
/// and the request did not go forward (no `fwd`). A stale-if-error answer
/// went forward (`fwd=stale`) and is `stale`; a sliced object some of
/// whose slices were fetched now is `fwd=partial` and keeps the outcome
/// of its lookup.
#[derive(Debug, Clone)]
pub struct CacheStatus {
    /// What became of the request.
    pub outcome: Outcome,
    /// Why it went forward.
    pub fwd: Option<Fwd>,
    /// Status of the forward response.
    pub fwd_status: Option<u16>,
    /// Remaining freshness, seconds (negative when stale).
    pub ttl: Option<i64>,
    /// The forward response was stored.
    pub stored: bool,
    /// The request waited on another request's origin fetch.
    pub collapsed: bool,
    /// Extra detail: `memory`, `disk`, `stale-while-revalidate`, a not-stored reason, …
    pub detail: Option<&'static str>,
    /// The upper tier's entries, as received (a fill from a shield).
    pub upstream: Option<HeaderValue>,
}

/// The `detail` of a fresh hit from `tier` of a response with `flags`:
/// the tier, then how its lifetime came about when not from the origin's
/// own explicit lifetime as it is ([`Flags::lifetime`]), e.g. `memory`,
/// `disk+heuristic`, `memory+default-ttl+max-ttl`. Static strings: the hit
/// path formats nothing (see [`hit_value`]).
#[inline(always)]
pub fn hit_detail(tier: Tier, flags: Flags) -> &'static str {
    const MEMORY: [&str; 12] = lifetime_words!("memory", "+");
    const DISK: [&str; 12] = lifetime_words!("disk", "+");
    match tier {
        Tier::Memory => MEMORY[flags.lifetime()],
        Tier::Disk => DISK[flags.lifetime()],
    }
}

impl CacheStatus {
    /// A fresh hit.
    pub fn hit(ttl: i64, detail: &'static str) -> Self {
        CacheStatus { ttl: Some(ttl), detail: Some(detail), ..CacheStatus::of(Outcome::Hit) }
    }

    /// A stale response served without going forward (`max-stale`,
    /// `stale-while-revalidate`).
    pub fn stale_hit(ttl: i64, detail: &'static str) -> Self {
        CacheStatus { ttl: Some(ttl), detail: Some(detail), ..CacheStatus::of(Outcome::Stale) }
    }

    /// A request that went forward for reason `fwd`, with `outcome`.
    pub fn forward(outcome: Outcome, fwd: Fwd) -> Self {
        CacheStatus { fwd: Some(fwd), ..CacheStatus::of(outcome) }
    }

    /// `outcome` and no parameter.
    pub fn of(outcome: Outcome) -> Self {
        CacheStatus {
            outcome,
            fwd: None,
            fwd_status: None,
            ttl: None,
            stored: false,
            collapsed: false,
            detail: None,
            upstream: None,
        }
    }

    /// The same, as an error answered by the edge.
    pub fn failed(self) -> Self {
        CacheStatus { outcome: Outcome::Error, ..self }
    }

    /// What became of the request: the metric label and the log word.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether `Cache-Status` says `hit`: served from the cache, not forward.
    pub fn is_hit(&self) -> bool {
        self.fwd.is_none() && matches!(self.outcome, Outcome::Hit | Outcome::Stale)
    }

    /// Renders the header value: the upper tier's entries, if any, then
    /// this cache's, named `label` (`edge-seoul`).
    pub fn render(&self, label: &str) -> HeaderValue {
        use std::fmt::Write;
        let up = self.upstream.as_ref().and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty());
        let mut s = String::with_capacity(label.len() + 64 + up.map_or(0, |u| u.len() + 2));
        if let Some(u) = up {
            s.push_str(u.trim());
            s.push_str(", ");
        }
        s.push_str(label);
        if self.is_hit() {
            s.push_str("; hit");
        }
        if let Some(f) = self.fwd {
            s.push_str("; fwd=");
            s.push_str(f.as_str());
        }
        if let Some(c) = self.fwd_status {
            let _ = write!(s, "; fwd-status={c}");
        }
        if let Some(t) = self.ttl {
            let _ = write!(s, "; ttl={t}");
        }
        if self.stored {
            s.push_str("; stored");
        }
        if self.collapsed {
            s.push_str("; collapsed");
        }
        if let Some(d) = self.detail {
            s.push_str("; detail=");
            s.push_str(d);
        }
        HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static("cdnlab"))
    }
}

thread_local! {
    static HIT_VALUES: std::cell::RefCell<Vec<(HitKey, HeaderValue)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A hit value's key: the label's address, the ttl, the detail's address
/// and length (two static details may share an address, one the prefix of
/// the other: `memory`, `memory+heuristic`).
type HitKey = (usize, i64, usize, usize);

/// The `Cache-Status` value of a hit, `{label}; hit; ttl={ttl}; detail={detail}`,
/// remembered per thread (a small direct-mapped table), so the hit path
/// formats it once per value instead of once per request.
pub fn hit_value(label: &str, ttl: i64, detail: &'static str) -> HeaderValue {
    const SLOTS: usize = 256;
    let key: HitKey = (label.as_ptr() as usize, ttl, detail.as_ptr() as usize, detail.len());
    // The detail is in the slot too: same-ttl hits on entries with other
    // details (`memory`, `memory+heuristic`) would evict each other's value.
    let slot =
        (ttl as usize).wrapping_mul(31).wrapping_add(key.0 >> 4).wrapping_add(key.2 >> 3).wrapping_add(key.3 * 7)
            % SLOTS;
    HIT_VALUES.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_empty() {
            t.resize(SLOTS, ((0, 0, 0, 0), HeaderValue::from_static("")));
        }
        let e = &mut t[slot];
        // The label's address could be reused by another edge in the same
        // process (tests): check the text too.
        if e.0 != key || !e.1.as_bytes().starts_with(label.as_bytes()) {
            *e = (key, CacheStatus::hit(ttl, detail).render(label));
        }
        e.1.clone()
    })
}

/// An `Age` value; 0..4096 seconds come from a table built once.
pub fn age_value(secs: u64) -> HeaderValue {
    static TABLE: std::sync::OnceLock<Vec<HeaderValue>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| (0..4096u64).map(HeaderValue::from).collect());
    t.get(secs as usize).cloned().unwrap_or_else(|| HeaderValue::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc_9211_parameters_in_order() {
        let h = CacheStatus::hit(3512, "memory").render("edge-seoul");
        assert_eq!(h, "edge-seoul; hit; ttl=3512; detail=memory");
        let m = CacheStatus {
            fwd_status: Some(200),
            stored: true,
            collapsed: true,
            ..CacheStatus::forward(Outcome::Miss, Fwd::UriMiss)
        };
        assert_eq!(m.render("edge-tokyo"), "edge-tokyo; fwd=uri-miss; fwd-status=200; stored; collapsed");
    }

    /// RFC 9211 §2: one entry per cache, in order, the one nearest the
    /// origin first: the shield's entry as received, then this edge's.
    #[test]
    fn a_fill_from_a_shield_lists_the_shields_entry_first() {
        let m = CacheStatus {
            fwd_status: Some(200),
            stored: true,
            upstream: Some(HeaderValue::from_static("edge-newyork; fwd=uri-miss; fwd-status=200; stored")),
            ..CacheStatus::forward(Outcome::Miss, Fwd::UriMiss)
        };
        assert_eq!(
            m.render("edge-seoul"),
            "edge-newyork; fwd=uri-miss; fwd-status=200; stored, edge-seoul; fwd=uri-miss; fwd-status=200; stored"
        );
    }

    #[test]
    fn cached_hit_and_age_values_match_fresh_ones() {
        let label = String::from("edge-x");
        for ttl in [5, 5, 6, -3, 5] {
            assert_eq!(hit_value(&label, ttl, "memory"), CacheStatus::hit(ttl, "memory").render(&label));
        }
        let other = String::from("edge-y");
        assert_eq!(hit_value(&other, 5, "memory"), "edge-y; hit; ttl=5; detail=memory");
        assert_eq!(age_value(7), "7");
        assert_eq!(age_value(100_000), "100000");
    }

    /// One case per outcome: the value the request path builds for it,
    /// the header it renders, and the word the metrics and the access log
    /// use (both [`Outcome::as_str`] of [`CacheStatus::outcome`]).
    #[test]
    fn each_outcome_yields_its_cache_status_metric_label_and_log_word() {
        let with = |cs: CacheStatus, f: fn(&mut CacheStatus)| {
            let mut cs = cs;
            f(&mut cs);
            cs
        };
        let cases: Vec<(CacheStatus, &str, &str)> = vec![
            (CacheStatus::hit(60, "memory"), "e; hit; ttl=60; detail=memory", "hit"),
            (CacheStatus::hit(60, "disk+heuristic"), "e; hit; ttl=60; detail=disk+heuristic", "hit"),
            (
                with(CacheStatus::hit(60, "memory"), |c| {
                    c.fwd = Some(Fwd::Partial);
                    c.stored = true;
                    c.detail = Some("slices");
                }),
                "e; fwd=partial; ttl=60; stored; detail=slices",
                "hit",
            ),
            (
                CacheStatus::stale_hit(-5, "stale-while-revalidate"),
                "e; hit; ttl=-5; detail=stale-while-revalidate",
                "stale",
            ),
            (CacheStatus::stale_hit(-5, "max-stale"), "e; hit; ttl=-5; detail=max-stale", "stale"),
            (
                with(CacheStatus::forward(Outcome::Stale, Fwd::Stale), |c| {
                    c.fwd_status = Some(503);
                    c.ttl = Some(-5);
                    c.detail = Some("stale-if-error");
                }),
                "e; fwd=stale; fwd-status=503; ttl=-5; detail=stale-if-error",
                "stale",
            ),
            (
                with(CacheStatus::forward(Outcome::Miss, Fwd::UriMiss), |c| {
                    c.fwd_status = Some(200);
                    c.ttl = Some(100);
                    c.stored = true;
                    c.detail = Some("heuristic");
                }),
                "e; fwd=uri-miss; fwd-status=200; ttl=100; stored; detail=heuristic",
                "miss",
            ),
            (
                with(CacheStatus::forward(Outcome::Revalidated, Fwd::Stale), |c| {
                    c.fwd_status = Some(304);
                    c.ttl = Some(60);
                    c.stored = true;
                }),
                "e; fwd=stale; fwd-status=304; ttl=60; stored",
                "revalidated",
            ),
            (CacheStatus::forward(Outcome::Pass, Fwd::Bypass), "e; fwd=bypass", "pass"),
            (CacheStatus::forward(Outcome::Miss, Fwd::VaryMiss).failed(), "e; fwd=vary-miss", "error"),
            // an error while serving a stored sliced object: not a hit any more
            (CacheStatus::hit(60, "memory").failed(), "e; ttl=60; detail=memory", "error"),
        ];
        for (cs, header, word) in &cases {
            assert_eq!(cs.render("e"), *header, "{cs:?}");
            assert_eq!(cs.outcome().as_str(), *word, "{cs:?}");
        }
        for o in Outcome::ALL {
            assert!(cases.iter().any(|(cs, ..)| cs.outcome() == o), "no case for {o:?}");
        }
    }

    /// Issue 19: a hit says how its lifetime came about, in one token
    /// (RFC 8941 §3.3.4: `( ALPHA / "*" ) *( tchar / ":" / "/" )`), so the
    /// header stays one list member with one `detail`.
    #[test]
    fn hit_details_name_the_tier_and_the_lifetime_source_in_one_token() {
        let f = |bits: u8| Flags(bits);
        assert_eq!(hit_detail(Tier::Memory, f(0)), "memory");
        assert_eq!(hit_detail(Tier::Disk, f(Flags::IMMUTABLE)), "disk");
        assert_eq!(hit_detail(Tier::Memory, f(Flags::HEURISTIC)), "memory+heuristic");
        assert_eq!(hit_detail(Tier::Disk, f(Flags::DEFAULT_TTL)), "disk+default-ttl");
        assert_eq!(hit_detail(Tier::Memory, f(Flags::MIN_TTL)), "memory+min-ttl");
        assert_eq!(hit_detail(Tier::Memory, f(Flags::HEURISTIC | Flags::MAX_TTL)), "memory+heuristic+max-ttl");
        assert_eq!(
            hit_detail(Tier::Disk, f(Flags::DEFAULT_TTL | Flags::MIN_TTL | Flags::MAX_TTL)),
            "disk+default-ttl+min-ttl+max-ttl"
        );
        let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:/".contains(c);
        for tier in [Tier::Memory, Tier::Disk] {
            for bits in 0..=255u8 {
                let d = hit_detail(tier, f(bits));
                assert!(d.starts_with(tier.as_str()) && d.chars().all(tchar), "{d}");
                let v = hit_value("edge-x", 7, d);
                assert_eq!(v, format!("edge-x; hit; ttl=7; detail={d}").as_str());
            }
        }
    }
}
