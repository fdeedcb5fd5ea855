//! Loading a world file: parse (unknown fields and wrong types refused with
//! file, line and field), then check what parsing cannot: that names refer
//! to regions that exist, that no address is used twice, and that every
//! address is on loopback.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::{CacheRule, CatalogRule, Edge, EdgeSettings, World};
use crate::price::Tier;
use crate::toml_file::{self, Doc, FileError, Seg};

/// The built-in demo world (`scenarios/worlds/demo.toml`).
pub const DEMO_TEXT: &str = include_str!("../../scenarios/worlds/demo.toml");
/// Label of the built-in demo world in messages.
pub const DEMO_LABEL: &str = "scenarios/worlds/demo.toml (built in)";

/// Environment variable that overrides the world's admin token.
pub const ADMIN_TOKEN_ENV: &str = "CDNLAB_ADMIN_TOKEN";

impl World {
    /// Reads and checks a world file.
    pub fn load(path: &Path) -> Result<World, FileError> {
        let text = toml_file::read(path)?;
        let mut w = World::parse(&path.display().to_string(), &text)?;
        w.source = path.to_path_buf();
        Ok(w)
    }

    /// The world in `path`, or the built-in demo world when `None`.
    pub fn load_or_demo(path: Option<&Path>) -> Result<World, FileError> {
        match path {
            Some(p) => World::load(p),
            None => World::demo(),
        }
    }

    /// The built-in demo world.
    pub fn demo() -> Result<World, FileError> {
        let mut w = World::parse(DEMO_LABEL, DEMO_TEXT)?;
        w.source = PathBuf::from("scenarios/worlds/demo.toml");
        Ok(w)
    }

    /// Parses and checks world text; `file` labels error messages.
    pub fn parse(file: &str, text: &str) -> Result<World, FileError> {
        let (w, doc) = Doc::parse::<World>(file, text)?;
        w.check(&doc)?;
        Ok(w)
    }

    fn check(&self, doc: &Doc<'_>) -> Result<(), FileError> {
        let err = |path: &[Seg<'_>], msg: String| Err(doc.error_at(path, msg));
        if !is_name(&self.name) {
            return err(&["name".into()], format!("name `{}` must be letters, digits, `-` or `_`", self.name));
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0 && self.time_scale <= 1e6) {
            return err(&["time_scale".into()], format!("time_scale {} must be > 0 and ≤ 1e6", self.time_scale));
        }
        // Regions.
        if self.regions.is_empty() {
            return err(&[], "a world needs at least one [[region]]".into());
        }
        let mut regions = HashSet::new();
        for (i, r) in self.regions.iter().enumerate() {
            let at = |f: &'static str| [Seg::Key("region"), Seg::Index(i), Seg::Key(f)];
            if !is_name(&r.name) || r.name.chars().any(|c| c.is_ascii_uppercase()) {
                return err(&at("name"), format!("region name `{}` must be lowercase letters, digits or `-`", r.name));
            }
            if !regions.insert(r.name.as_str()) {
                return err(&at("name"), format!("region `{}` is defined twice", r.name));
            }
            if !(-90.0..=90.0).contains(&r.lat) {
                return err(&at("lat"), format!("region `{}`: lat {} is not in -90..90", r.name, r.lat));
            }
            if !(-180.0..=180.0).contains(&r.lon) {
                return err(&at("lon"), format!("region `{}`: lon {} is not in -180..180", r.name, r.lon));
            }
            if !r.clients.addr().is_loopback() {
                return err(
                    &at("clients"),
                    format!("region `{}`: clients {} must be on loopback (127.0.0.0/8)", r.name, r.clients),
                );
            }
            for (j, other) in self.regions[..i].iter().enumerate() {
                if other.clients.contains(&r.clients.addr()) || r.clients.contains(&other.clients.addr()) {
                    let _ = j;
                    return err(
                        &at("clients"),
                        format!(
                            "region `{}`: clients {} overlap region `{}`'s {}",
                            r.name, r.clients, other.name, other.clients
                        ),
                    );
                }
            }
            if let Some(p) = &r.prices
                && let Some(t) = &p.egress
            {
                check_tiers(t)
                    .map_err(|m| doc.error_at(&[Seg::Key("region"), Seg::Index(i), Seg::Key("prices")], m))?;
            }
        }
        let known = |name: &str| regions.contains(name);
        let region_list = || self.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
        if let Some(d) = &self.default_region
            && !known(d)
        {
            return err(
                &["default_region".into()],
                format!("default_region `{d}` is not a region (regions: {})", region_list()),
            );
        }
        for (i, e) in self.latency.rtt.iter().enumerate() {
            let at = [Seg::Key("latency"), Seg::Key("rtt"), Seg::Index(i), Seg::Key("between")];
            for r in &e.between {
                if !known(r) {
                    return err(&at, format!("latency.rtt: unknown region `{r}` (regions: {})", region_list()));
                }
            }
            if e.between[0] == e.between[1] {
                return err(&at, format!("latency.rtt: `{}` to itself is latency.same_region", e.between[0]));
            }
            if !(e.ms.is_finite() && e.ms >= 0.0) {
                return err(&at, format!("latency.rtt: {} ms is not a round-trip time", e.ms));
            }
        }
        self.check_links(doc)?;
        // Origin.
        if !known(&self.origin.region) {
            return err(
                &["origin".into(), "region".into()],
                format!("origin region `{}` is not a region (regions: {})", self.origin.region, region_list()),
            );
        }
        // Edges.
        if self.edges.is_empty() {
            return err(&[], "a world needs at least one [[edge]]".into());
        }
        let mut names = HashSet::new();
        for (i, e) in self.edges.iter().enumerate() {
            let at = |f: &'static str| [Seg::Key("edge"), Seg::Index(i), Seg::Key(f)];
            if !is_name(&e.name) {
                return err(&at("name"), format!("edge name `{}` must be letters, digits, `-` or `_`", e.name));
            }
            if !names.insert(e.name.as_str()) {
                return err(&at("name"), format!("edge `{}` is defined twice", e.name));
            }
            if !known(&e.region) {
                return err(
                    &at("region"),
                    format!("edge `{}`: unknown region `{}` (regions: {})", e.name, e.region, region_list()),
                );
            }
            if let Some(v6) = e.ipv6
                && !(v6.is_loopback() || is_documentation_v6(v6))
            {
                return err(&at("ipv6"), format!("edge `{}`: ipv6 {v6} must be ::1 or in 2001:db8::/32", e.name));
            }
            check_settings(&self.settings_of(e))
                .map_err(|(f, m)| doc.error_at(&at(f), format!("edge `{}`: {m}", e.name)))?;
        }
        check_settings(&self.edge_defaults).map_err(|(f, m)| doc.error_at(&["edge_defaults".into(), f.into()], m))?;
        // Addresses: all on loopback, none twice.
        let mut seen: HashMap<SocketAddr, String> = HashMap::new();
        for (path, label, addr) in self.addresses() {
            if !addr.ip().is_loopback() {
                return err(&path_segs(&path), format!("{label} {addr} must be on loopback (127.0.0.0/8 or ::1)"));
            }
            if let Some(prev) = seen.insert(addr, label.clone()) {
                return err(&path_segs(&path), format!("duplicate address {addr}: {label} and {prev}"));
            }
        }
        // Catalog.
        let c = &self.catalog;
        let at = |f: &'static str| [Seg::Key("catalog"), Seg::Key("size"), Seg::Key(f)];
        if !(c.size.sigma.is_finite() && c.size.sigma >= 0.0) {
            return err(&at("sigma"), format!("catalog.size.sigma {} must be ≥ 0", c.size.sigma));
        }
        if !(c.size.min <= c.size.median && c.size.median <= c.size.max) {
            return err(
                &at("median"),
                format!(
                    "catalog.size needs min ≤ median ≤ max (got {} ≤ {} ≤ {})",
                    c.size.min, c.size.median, c.size.max
                ),
            );
        }
        if c.groups == 0 {
            return err(&["catalog".into(), "groups".into()], "catalog.groups must be at least 1".into());
        }
        for (i, r) in c.rules.iter().enumerate() {
            check_catalog_rule(r)
                .map_err(|m| doc.error_at(&[Seg::Key("catalog"), Seg::Key("rule"), Seg::Index(i)], m))?;
        }
        for (i, r) in self.cache.rules.iter().enumerate() {
            check_cache_rule(r).map_err(|m| {
                doc.error_at(&[Seg::Key("cache"), Seg::Key("rule"), Seg::Index(i), Seg::Key("prefix")], m)
            })?;
        }
        // GeoDNS.
        let g = &self.geodns;
        if !is_dns_name(&g.zone) {
            return err(&["geodns".into(), "zone".into()], format!("geodns.zone `{}` is not a DNS name", g.zone));
        }
        if g.health.fall == 0 || g.health.rise == 0 || g.health.interval.0.is_zero() || g.health.timeout.0.is_zero() {
            return err(
                &["geodns".into(), "health".into()],
                "geodns.health: interval and timeout must be > 0, fall and rise ≥ 1".into(),
            );
        }
        check_tiers(&self.prices.egress).map_err(|m| doc.error_at(&["prices".into(), "egress".into()], m))?;
        check_tiers(&self.prices.origin_egress)
            .map_err(|m| doc.error_at(&["prices".into(), "origin_egress".into()], m))?;
        Ok(())
    }

    /// Every listening address with a label and its place in the file.
    fn addresses(&self) -> Vec<(Vec<String>, String, SocketAddr)> {
        let mut v = vec![
            (vec!["origin".into(), "listen".into()], "origin listen".to_string(), self.origin.listen),
            (vec!["origin".into(), "admin".into()], "origin admin".to_string(), self.origin.admin),
            (vec!["geodns".into(), "dns".into()], "geodns dns".to_string(), self.geodns.dns),
            (vec!["geodns".into(), "http".into()], "geodns http".to_string(), self.geodns.http),
            (vec!["dashboard".into(), "listen".into()], "dashboard listen".to_string(), self.dashboard.listen),
        ];
        for (i, e) in self.edges.iter().enumerate() {
            v.push((
                vec!["edge".into(), format!("#{i}"), "listen".into()],
                format!("edge `{}` listen", e.name),
                e.listen,
            ));
            v.push((vec!["edge".into(), format!("#{i}"), "admin".into()], format!("edge `{}` admin", e.name), e.admin));
        }
        v
    }

    /// The edge named `name`.
    pub fn edge(&self, name: &str) -> Option<&Edge> {
        self.edges.iter().find(|e| e.name == name)
    }

    /// An edge's cache settings: its overrides over `edge_defaults`.
    pub fn settings_of(&self, e: &Edge) -> EdgeSettings {
        let d = &self.edge_defaults;
        EdgeSettings {
            memory: e.memory.unwrap_or(d.memory),
            disk: e.disk.unwrap_or(d.disk),
            max_object: e.max_object.unwrap_or(d.max_object),
            eviction: e.eviction.unwrap_or(d.eviction),
            slice_size: d.slice_size,
            data_dir: e.data_dir.clone().unwrap_or_else(|| d.data_dir.clone()),
            origin_timeout: d.origin_timeout,
            connect_timeout: d.connect_timeout,
            min_uses: e.min_uses.unwrap_or(d.min_uses),
            min_uses_window: d.min_uses_window,
            access_log: e.access_log.unwrap_or(d.access_log),
        }
    }

    /// An edge's data directory, with `{world}` and `{edge}` filled in.
    pub fn data_dir_of(&self, e: &Edge) -> PathBuf {
        PathBuf::from(self.settings_of(e).data_dir.replace("{world}", &self.name).replace("{edge}", &e.name))
    }

    /// The admin token: `CDNLAB_ADMIN_TOKEN` if set, else the world's.
    pub fn admin_token(&self) -> Option<String> {
        std::env::var(ADMIN_TOKEN_ENV).ok().filter(|t| !t.is_empty()).or_else(|| self.admin_token.clone())
    }

    /// Region of clients with unknown location.
    pub fn default_region(&self) -> &str {
        self.default_region.as_deref().unwrap_or(&self.origin.region)
    }

    /// Base URL of the origin, `http://127.0.0.1:8080`.
    pub fn origin_url(&self) -> String {
        format!("http://{}", self.origin.listen)
    }

    /// The catalog rule for a path (longest matching prefix).
    pub fn catalog_rule(&self, path: &str) -> Option<&CatalogRule> {
        self.catalog.rules.iter().filter(|r| path.starts_with(&r.prefix)).max_by_key(|r| r.prefix.len())
    }

    /// The cache rule for a path (longest matching prefix).
    pub fn cache_rule(&self, path: &str) -> Option<&CacheRule> {
        self.cache.rules.iter().filter(|r| path.starts_with(&r.prefix)).max_by_key(|r| r.prefix.len())
    }
}

fn path_segs(p: &[String]) -> Vec<Seg<'_>> {
    p.iter()
        .map(|s| match s.strip_prefix('#').and_then(|n| n.parse().ok()) {
            Some(i) => Seg::Index(i),
            None => Seg::Key(s),
        })
        .collect()
}

fn check_settings(s: &EdgeSettings) -> Result<(), (&'static str, String)> {
    if s.memory.0 < 1 << 20 {
        return Err(("memory", format!("memory {} is below the 1MiB minimum", s.memory)));
    }
    if s.max_object.0 == 0 {
        return Err(("max_object", "max_object must be > 0".into()));
    }
    if s.disk.0 != 0 && s.disk.0 < 4 << 20 {
        return Err(("disk", format!("disk {} must be 0 (memory only) or at least 4MiB", s.disk)));
    }
    if s.slice_size.0 != 0 && s.slice_size.0 < 64 * 1024 {
        return Err(("slice_size", format!("slice_size {} must be 0 (off) or at least 64KiB", s.slice_size)));
    }
    if s.data_dir.trim().is_empty() {
        return Err(("data_dir", "data_dir must not be empty".into()));
    }
    if s.origin_timeout.0.is_zero() || s.connect_timeout.0.is_zero() {
        return Err(("origin_timeout", "timeouts must be > 0".into()));
    }
    if s.min_uses == 0 {
        return Err(("min_uses", "min_uses must be at least 1 (1 stores at once)".into()));
    }
    if s.min_uses_window.0.is_zero() {
        return Err(("min_uses_window", "min_uses_window must be > 0".into()));
    }
    Ok(())
}

fn check_catalog_rule(r: &CatalogRule) -> Result<(), String> {
    if !r.prefix.starts_with('/') {
        return Err(format!("catalog rule prefix `{}` must start with `/`", r.prefix));
    }
    http::HeaderValue::from_str(&r.cache_control)
        .map_err(|_| format!("cache_control `{}` is not a header value", r.cache_control))?;
    http::HeaderValue::from_str(&r.content_type)
        .map_err(|_| format!("content_type `{}` is not a header value", r.content_type))?;
    for h in &r.headers {
        let Some((n, v)) = h.split_once(':') else {
            return Err(format!("header `{h}` must be `Name: value`"));
        };
        http::HeaderName::from_bytes(n.trim().as_bytes())
            .map_err(|_| format!("`{}` is not a header name", n.trim()))?;
        http::HeaderValue::from_str(v.trim()).map_err(|_| format!("`{}` is not a header value", v.trim()))?;
    }
    Ok(())
}

fn check_cache_rule(r: &CacheRule) -> Result<(), String> {
    if !r.prefix.starts_with('/') {
        return Err(format!("cache rule prefix `{}` must start with `/`", r.prefix));
    }
    if let (Some(min), Some(max)) = (r.min_ttl, r.max_ttl)
        && min > max
    {
        return Err(format!("cache rule `{}`: min_ttl {min} > max_ttl {max}", r.prefix));
    }
    if r.min_uses == Some(0) {
        return Err(format!("cache rule `{}`: min_uses must be at least 1", r.prefix));
    }
    if r.min_uses_window.is_some_and(|w| w.0.is_zero()) {
        return Err(format!("cache rule `{}`: min_uses_window must be > 0", r.prefix));
    }
    Ok(())
}

fn check_tiers(t: &[Tier]) -> Result<(), String> {
    if t.is_empty() {
        return Err("egress needs at least one tier".into());
    }
    let mut last = 0;
    for (i, tier) in t.iter().enumerate() {
        match tier.up_to {
            Some(b) if b.0 <= last => {
                return Err(format!("egress tier {} must end above the previous one", i + 1));
            }
            Some(b) => last = b.0,
            None if i + 1 != t.len() => {
                return Err("only the last egress tier may omit up_to".into());
            }
            None => {}
        }
    }
    Ok(())
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_documentation_v6(a: std::net::Ipv6Addr) -> bool {
    let s = a.segments();
    s[0] == 0x2001 && s[1] == 0x0db8
}
