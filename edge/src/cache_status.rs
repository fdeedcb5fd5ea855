//! The `Cache-Status` response header (RFC 9211), e.g.
//! `edge-seoul; hit; ttl=3512; detail=memory` or
//! `edge-seoul; fwd=miss; fwd-status=200; stored; collapsed`.

use http::HeaderValue;

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

/// One cache's entry in `Cache-Status`.
#[derive(Debug, Clone, Default)]
pub struct CacheStatus {
    /// Served from the cache without going forward.
    pub hit: bool,
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
}

impl CacheStatus {
    /// A hit.
    pub fn hit(ttl: i64, detail: &'static str) -> Self {
        CacheStatus { hit: true, ttl: Some(ttl), detail: Some(detail), ..Default::default() }
    }

    /// A forward.
    pub fn fwd(fwd: Fwd) -> Self {
        CacheStatus { fwd: Some(fwd), ..Default::default() }
    }

    /// Renders the header value after the cache's `label` (`edge-seoul`).
    pub fn render(&self, label: &str) -> HeaderValue {
        use std::fmt::Write;
        let mut s = String::with_capacity(label.len() + 64);
        s.push_str(label);
        if self.hit {
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
    static HIT_VALUES: std::cell::RefCell<Vec<(usize, i64, usize, HeaderValue)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The `Cache-Status` value of a hit, `{label}; hit; ttl={ttl}; detail={detail}`,
/// remembered per thread (a small direct-mapped table), so the hit path
/// formats it once per value instead of once per request.
pub fn hit_value(label: &str, ttl: i64, detail: &'static str) -> HeaderValue {
    const SLOTS: usize = 256;
    let key = (label.as_ptr() as usize, ttl, detail.as_ptr() as usize);
    let slot = (ttl as usize).wrapping_mul(31).wrapping_add(key.0 >> 4) % SLOTS;
    HIT_VALUES.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_empty() {
            t.resize(SLOTS, (0, 0, 0, HeaderValue::from_static("")));
        }
        let e = &mut t[slot];
        // The label's address could be reused by another edge in the same
        // process (tests): check the text too.
        if (e.0, e.1, e.2) != key || !e.3.as_bytes().starts_with(label.as_bytes()) {
            *e = (key.0, key.1, key.2, CacheStatus::hit(ttl, detail).render(label));
        }
        e.3.clone()
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
        let m = CacheStatus { fwd_status: Some(200), stored: true, collapsed: true, ..CacheStatus::fwd(Fwd::UriMiss) };
        assert_eq!(m.render("edge-tokyo"), "edge-tokyo; fwd=uri-miss; fwd-status=200; stored; collapsed");
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
}
