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
}
