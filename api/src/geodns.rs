//! The GeoDNS metrics other programs read (the dashboard draws where each
//! region's clients are sent from them): their names, as GeoDNS's
//! `/metrics` exposes them.

/// A/AAAA answers by edge (`origin` for the fallback).
pub const DNS_ANSWERS: &str = "cdnlab_geodns_dns_answers_total";
/// A/AAAA answers by client region (`other`: located in no region) and
/// edge answered (`origin` for the fallback).
pub const DNS_ANSWERS_BY_REGION: &str = "cdnlab_geodns_dns_answers_by_region_total";
