//! Loading a world file: parse (unknown fields and wrong types refused with
//! file, line and field), then check what parsing cannot: that names refer
//! to regions that exist, that no address is used twice, and that every
//! address is on loopback.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::bounds::{self, *};
use crate::config::{CacheRule, CatalogRule, Edge, EdgeSettings, SizeModel, World};
use crate::price::Tier;
use crate::toml_file::{self, Doc, FileError, Problems, Seg};
use crate::units::{ByteSize, Dur};

/// The built-in demo world (`scenarios/worlds/demo.toml`).
pub const DEMO_TEXT: &str = include_str!("../../scenarios/worlds/demo.toml");
/// Label of the built-in demo world in messages.
pub const DEMO_LABEL: &str = "scenarios/worlds/demo.toml (built in)";

/// Environment variable that overrides the world's admin token.
pub const ADMIN_TOKEN_ENV: &str = "CDNLAB_ADMIN_TOKEN";

/// How many worlds deep `extends` may go.
const MAX_EXTENDS: usize = 8;

impl World {
    /// Reads and checks a world file (and the worlds it `extends`).
    pub fn load(path: &Path) -> Result<World, FileError> {
        let (table, doc) = read_doc(path, 0)?;
        let mut w = World::from_doc(table, &doc)?;
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

    /// Parses and checks world text; `file` labels error messages (a
    /// relative `extends` is relative to the current directory).
    pub fn parse(file: &str, text: &str) -> Result<World, FileError> {
        let (table, doc) = parse_doc(file, text, Path::new("."), 0)?;
        World::from_doc(table, &doc)
    }

    /// A world document (every layer merged) as a checked world.
    /// Every problem is reported at once: each bad field (wrong type,
    /// unknown name) and, for what could be read, every failed check.
    pub fn from_doc(table: toml::Table, doc: &Doc) -> Result<World, FileError> {
        let (w, mut found) = doc.deserialize_all::<World>(table);
        if let Some(w) = &w
            && let Err(e) = w.check(doc)
        {
            found.extend(e.all().map(|e| FileError { more: Vec::new(), ..e.clone() }));
        }
        match (w, toml_file::combine(found)) {
            (Some(w), None) => Ok(w),
            (_, Some(e)) => Err(e),
            (None, None) => Err(doc.error_at(&[], "cannot be read")),
        }
    }

    /// Every check parsing cannot make, in one pass: every problem found is
    /// reported ([`Problems`]), each at its field.
    fn check(&self, doc: &Doc) -> Result<(), FileError> {
        let mut p = Problems::new(doc);
        let k = |s: &'static str| Seg::Key(s);
        if !is_name(&self.name) {
            p.at(&[k("name")], format!("name `{}` must be letters, digits, `-` or `_`", self.name));
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0 && self.time_scale <= MAX_TIME_SCALE) {
            p.at(
                &[k("time_scale")],
                format!("time_scale {} must be > 0 and ≤ {MAX_TIME_SCALE:e}", num(self.time_scale)),
            );
        }
        if let Some(t) = &self.admin_token
            && let Err(m) = bounds::check_token(t)
        {
            p.at(&[k("admin_token")], m);
        }
        // Regions.
        if self.regions.is_empty() {
            p.at(&[], "a world needs at least one [[region]]");
        }
        if self.regions.len() > MAX_REGIONS {
            p.at(&[k("region")], format!("{} regions: at most {MAX_REGIONS}", self.regions.len()));
        }
        let mut regions = HashSet::new();
        for (i, r) in self.regions.iter().enumerate() {
            let at = |f: &'static str| [k("region"), Seg::Index(i), k(f)];
            if !is_name(&r.name) || r.name.chars().any(|c| c.is_ascii_uppercase()) {
                p.at(&at("name"), format!("region name `{}` must be lowercase letters, digits or `-`", r.name));
            }
            if !regions.insert(r.name.as_str()) {
                p.at(&at("name"), format!("region `{}` is defined twice", r.name));
            }
            p.range(&at("lat"), &format!("region `{}`: lat", r.name), r.lat, -90.0, 90.0);
            p.range(&at("lon"), &format!("region `{}`: lon", r.name), r.lon, -180.0, 180.0);
            p.range(
                &at("utc_offset_hours"),
                &format!("region `{}`: utc_offset_hours", r.name),
                r.utc_offset_hours,
                -12.0,
                14.0,
            );
            if r.geoip.len() > MAX_NETWORKS {
                p.at(
                    &at("geoip"),
                    format!("region `{}`: {} geoip networks, at most {MAX_NETWORKS}", r.name, r.geoip.len()),
                );
            }
            if !r.clients.addr().is_loopback() {
                p.at(
                    &at("clients"),
                    format!("region `{}`: clients {} must be on loopback (127.0.0.0/8)", r.name, r.clients),
                );
            }
            for other in &self.regions[..i] {
                if other.clients.contains(&r.clients.addr()) || r.clients.contains(&other.clients.addr()) {
                    p.at(
                        &at("clients"),
                        format!(
                            "region `{}`: clients {} overlap region `{}`'s {}",
                            r.name, r.clients, other.name, other.clients
                        ),
                    );
                }
            }
            if let Some(rp) = &r.prices
                && let Some(t) = &rp.egress
                && let Err(m) = check_tiers(t)
            {
                p.at(&[k("region"), Seg::Index(i), k("prices")], m);
            }
        }
        let known = |name: &str| regions.contains(name);
        let region_list = || self.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
        if let Some(d) = &self.default_region
            && !known(d)
        {
            p.at(&[k("default_region")], format!("default_region `{d}` is not a region (regions: {})", region_list()));
        }
        let rtt_ms = |d: Duration| d.as_secs_f64() * 1e3;
        p.range(
            &[k("latency"), k("same_region")],
            "latency.same_region (ms)",
            rtt_ms(self.latency.same_region.0),
            0.0,
            MAX_RTT_MS,
        );
        for (i, e) in self.latency.rtt.iter().enumerate() {
            let at = |f: &'static str| [k("latency"), k("rtt"), Seg::Index(i), k(f)];
            for r in &e.between {
                if !known(r) {
                    p.at(&at("between"), format!("latency.rtt: unknown region `{r}` (regions: {})", region_list()));
                }
            }
            if e.between[0] == e.between[1] {
                p.at(&at("between"), format!("latency.rtt: `{}` to itself is latency.same_region", e.between[0]));
            }
            p.range(&at("ms"), "latency.rtt: ms", e.ms, 0.0, MAX_RTT_MS);
        }
        if let Err(e) = self.check_links(doc) {
            p.add(e);
        }
        // Origin.
        if let Some(h) = &self.origin.host
            && let Err(m) = bounds::check_origin_host(h)
        {
            p.at(&[k("origin"), k("host")], format!("origin.host `{h}` {m}"));
        }
        if !known(&self.origin.region) {
            p.at(
                &[k("origin"), k("region")],
                format!("origin region `{}` is not a region (regions: {})", self.origin.region, region_list()),
            );
        }
        // Edges.
        if self.edges.is_empty() {
            p.at(&[], "a world needs at least one [[edge]]");
        }
        if self.edges.len() > MAX_EDGES {
            p.at(&[k("edge")], format!("{} edges: at most {MAX_EDGES}", self.edges.len()));
        }
        for (f, m) in check_settings(&self.edge_defaults) {
            p.at(&[k("edge_defaults"), k(f)], m);
        }
        let mut names = HashSet::new();
        for (i, e) in self.edges.iter().enumerate() {
            let at = |f: &'static str| [k("edge"), Seg::Index(i), k(f)];
            if !is_name(&e.name) {
                p.at(&at("name"), format!("edge name `{}` must be letters, digits, `-` or `_`", e.name));
            }
            if !names.insert(e.name.as_str()) {
                p.at(&at("name"), format!("edge `{}` is defined twice", e.name));
            }
            if !known(&e.region) {
                p.at(
                    &at("region"),
                    format!("edge `{}`: unknown region `{}` (regions: {})", e.name, e.region, region_list()),
                );
            }
            if let Some(v6) = e.ipv6
                && !(v6.is_loopback() || is_documentation_v6(v6))
            {
                p.at(&at("ipv6"), format!("edge `{}`: ipv6 {v6} must be ::1 or in 2001:db8::/32", e.name));
            }
            // What the edge inherits was checked once, at edge_defaults.
            let defaults: Vec<_> = check_settings(&self.edge_defaults);
            for (f, m) in check_settings(&self.settings_of(e)) {
                if !defaults.iter().any(|(df, dm)| *df == f && *dm == m) {
                    p.at(&at(f), format!("edge `{}`: {m}", e.name));
                }
            }
        }
        // Tiers: the shield.
        crate::tiers::check(self, &mut p);
        // The replicated origin.
        crate::replicas::check(self, &mut p);
        // PoP clusters.
        crate::pop::check(self, &mut p);
        // Addresses: all on loopback, none twice.
        let mut seen: HashMap<SocketAddr, String> = HashMap::new();
        for (path, label, addr) in self.addresses() {
            if !addr.ip().is_loopback() {
                p.at(&path_segs(&path), format!("{label} {addr} must be on loopback (127.0.0.0/8 or ::1)"));
            }
            if let Some(prev) = seen.insert(addr, label.clone()) {
                p.at(&path_segs(&path), format!("duplicate address {addr}: {label} and {prev}"));
            }
        }
        // Catalog.
        let c = &self.catalog;
        if c.objects == 0 || c.objects > MAX_CATALOG_OBJECTS {
            p.at(
                &[k("catalog"), k("objects")],
                format!("catalog.objects {} must be 1 to {MAX_CATALOG_OBJECTS}", c.objects),
            );
        }
        check_size_model(&mut p, &c.size, &[k("catalog"), k("size")]);
        if c.groups == 0 || c.groups > MAX_GROUPS {
            p.at(&[k("catalog"), k("groups")], format!("catalog.groups {} must be 1 to {MAX_GROUPS}", c.groups));
        }
        if c.rules.len() > MAX_RULES {
            p.at(&[k("catalog"), k("rule")], format!("{} catalog rules: at most {MAX_RULES}", c.rules.len()));
        }
        for (i, r) in c.rules.iter().enumerate() {
            if let Err(m) = check_catalog_rule(r) {
                p.at(&[k("catalog"), k("rule"), Seg::Index(i)], m);
            }
        }
        if self.cache.rules.len() > MAX_RULES {
            p.at(&[k("cache"), k("rule")], format!("{} cache rules: at most {MAX_RULES}", self.cache.rules.len()));
        }
        for (i, r) in self.cache.rules.iter().enumerate() {
            for (f, m) in check_cache_rule(r) {
                p.at(&[k("cache"), k("rule"), Seg::Index(i), Seg::Key(f)], m);
            }
        }
        // GeoDNS.
        let g = &self.geodns;
        if !is_dns_name(&g.zone) {
            p.at(&[k("geodns"), k("zone")], format!("geodns.zone `{}` is not a DNS name", g.zone));
        }
        if g.ttl.0 > MAX_DNS_TTL {
            p.at(&[k("geodns"), k("ttl")], format!("geodns.ttl {} must be at most {}", g.ttl, Dur(MAX_DNS_TTL)));
        }
        crate::tiers::check_health(&mut p, &g.health, &[k("geodns"), k("health")], "geodns.health");
        if g.trusted_proxies.len() > MAX_NETWORKS {
            p.at(
                &[k("geodns"), k("trusted_proxies")],
                format!("{} trusted proxies: at most {MAX_NETWORKS}", g.trusted_proxies.len()),
            );
        }
        for (f, t) in [("egress", &self.prices.egress), ("origin_egress", &self.prices.origin_egress)] {
            if let Err(m) = check_tiers(t) {
                p.at(&[k("prices"), k(f)], m);
            }
        }
        p.finish()
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
        for (i, r) in self.origin.replicas.iter().enumerate() {
            if let Some((listen, admin)) = self.replica_addrs(r) {
                let at = vec!["origin".into(), "replicas".into(), format!("#{i}")];
                v.push((at.clone(), format!("origin replica `{r}` listen"), listen));
                v.push((at, format!("origin replica `{r}` admin"), admin));
            }
        }
        if let Some(l) = self.shield_listen() {
            let f = if self.shield.as_ref().is_some_and(|s| s.listen.is_some()) { "listen" } else { "region" };
            v.push((vec!["shield".into(), f.into()], "shield listen".to_string(), l));
        }
        v.extend(crate::pop::addresses(self));
        v
    }

    /// The edge named `name`.
    pub fn edge(&self, name: &str) -> Option<&Edge> {
        self.edges.iter().find(|e| e.name == name)
    }

    /// An edge's cache settings: its own layer over `edge_defaults`.
    pub fn settings_of(&self, e: &Edge) -> EdgeSettings {
        let mut s = self.edge_defaults.clone();
        s.apply(&e.overrides());
        s
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

/// Reads a world file as a document, with the worlds it extends merged
/// under it.
pub fn read_doc(path: &Path, depth: usize) -> Result<(toml::Table, Doc), FileError> {
    let text = toml_file::read(path)?;
    parse_doc(&path.display().to_string(), &text, path.parent().unwrap_or(Path::new(".")), depth)
}

/// World text as a document: `extends = "demo"` (the built-in demo world)
/// or `extends = "FILE"` (relative to `dir`) starts from that world, and
/// this text is merged over it ([`Doc::overlay`]: tables key by key, edges
/// and regions by name, anything else replaced).
pub fn parse_doc(file: &str, text: &str, dir: &Path, depth: usize) -> Result<(toml::Table, Doc), FileError> {
    let (mut table, doc) = Doc::parse_table(file, text)?;
    let Some(ext) = table.remove("extends") else { return Ok((table, doc)) };
    let at = [Seg::Key("extends")];
    let toml::Value::String(base) = ext else {
        return Err(doc.error_at(&at, "extends: give a world file or \"demo\""));
    };
    if depth >= MAX_EXTENDS {
        return Err(doc.error_at(&at, format!("extends: more than {MAX_EXTENDS} worlds deep (a loop?)")));
    }
    let (mut merged, mut base_doc) = if base == "demo" {
        parse_doc(DEMO_LABEL, DEMO_TEXT, Path::new("."), depth + 1)?
    } else {
        let p = dir.join(&base);
        read_doc(&p, depth + 1).map_err(|e| match e.at {
            None => doc.error_at(&at, format!("extends `{base}`: {}", e.message)),
            Some(_) => e,
        })?
    };
    let layer = base_doc.add_layer(doc);
    base_doc.overlay(&mut merged, &[], &toml::Value::Table(table), layer, &[]);
    Ok((merged, base_doc))
}

fn path_segs(p: &[String]) -> Vec<Seg<'_>> {
    p.iter()
        .map(|s| match s.strip_prefix('#').and_then(|n| n.parse().ok()) {
            Some(i) => Seg::Index(i),
            None => Seg::Key(s),
        })
        .collect()
}

impl EdgeSettings {
    /// Every problem of these settings, each with its field (a world's
    /// `[edge_defaults]` and `[[edge]]`s, scenario overrides and the
    /// `edge` command's flags are checked alike, after the one merge,
    /// [`EdgeSettings::apply`]).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        check_settings(self)
    }
}

fn check_settings(s: &EdgeSettings) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if let Err(e) = bounds::check_cache_sizes(s.memory.0, s.disk.0, s.max_object.0) {
        v.push(e);
    }
    if let Some(b) = s.disk_write_buffer
        && let Err(m) = bounds::check_write_buffer(b.0, s.max_object.0)
    {
        v.push(("disk_write_buffer", m));
    }
    if s.slice_size.0 != 0 && !(MIN_SLICE..=MAX_OBJECT).contains(&s.slice_size.0) {
        v.push((
            "slice_size",
            format!(
                "slice_size {} must be 0 (off) or between {} and {}",
                s.slice_size,
                ByteSize(MIN_SLICE),
                ByteSize(MAX_OBJECT)
            ),
        ));
    }
    if s.data_dir.trim().is_empty() {
        v.push(("data_dir", "data_dir must not be empty".into()));
    }
    for (f, d) in [("origin_timeout", s.origin_timeout), ("connect_timeout", s.connect_timeout)] {
        if d.0.is_zero() || d.0 > MAX_TIMEOUT {
            v.push((f, format!("{f} {d} must be > 0 and at most {}", Dur(MAX_TIMEOUT))));
        }
    }
    if s.upstream_pool > MAX_UPSTREAM_POOL {
        v.push(("upstream_pool", format!("upstream_pool {} must be at most {MAX_UPSTREAM_POOL}", s.upstream_pool)));
    }
    if s.upstream_idle_timeout.0.is_zero() || s.upstream_idle_timeout.0 > MAX_TIMEOUT {
        v.push((
            "upstream_idle_timeout",
            format!("upstream_idle_timeout {} must be > 0 and at most {}", s.upstream_idle_timeout, Dur(MAX_TIMEOUT)),
        ));
    }
    if s.min_uses == 0 || s.min_uses > MAX_MIN_USES {
        v.push(("min_uses", format!("min_uses {} must be 1 to {MAX_MIN_USES} (1 stores at once)", s.min_uses)));
    }
    if s.min_uses_window.0.is_zero() || s.min_uses_window.0 > MAX_WINDOW {
        v.push((
            "min_uses_window",
            format!("min_uses_window {} must be > 0 and at most {}", s.min_uses_window, Dur(MAX_WINDOW)),
        ));
    }
    if s.shadow.len() > MAX_SHADOWS {
        v.push(("shadow", format!("at most {MAX_SHADOWS} shadow caches per edge (got {})", s.shadow.len())));
    }
    if !(MIN_SHADOW_SAMPLE..=1.0).contains(&s.shadow_sample) {
        v.push((
            "shadow_sample",
            format!("shadow_sample {} must be {MIN_SHADOW_SAMPLE} to 1 (1: every key, exact)", s.shadow_sample),
        ));
    }
    for (i, c) in s.shadow.iter().enumerate() {
        if let Some(j) = s.shadow[..i].iter().position(|x| x == c) {
            v.push(("shadow", format!("shadow cache `{c}` is listed twice (entries {} and {})", j + 1, i + 1)));
            break;
        }
    }
    v
}

/// Checks a body size model (the world's catalog or a workload's sizes).
pub fn check_size_model(p: &mut Problems<'_>, m: &SizeModel, at: &[Seg<'_>]) {
    let f = |name: &'static str| {
        let mut v = at.to_vec();
        v.push(Seg::Key(name));
        v
    };
    p.range(&f("sigma"), "size.sigma", m.sigma, 0.0, MAX_SIGMA);
    if m.max.0 > MAX_OBJECT {
        p.at(&f("max"), format!("size.max {} must be at most {}", m.max, ByteSize(MAX_OBJECT)));
    }
    if !(m.min <= m.median && m.median <= m.max) {
        p.at(&f("median"), format!("size needs min ≤ median ≤ max (got {} ≤ {} ≤ {})", m.min, m.median, m.max));
    }
    if let Some(t) = m.tail
        && !(t.is_finite() && t > 0.0 && t <= MAX_TAIL)
    {
        p.at(&f("tail"), format!("size.tail {} must be > 0 and at most {MAX_TAIL}", num(t)));
    }
    p.range(&f("tail_share"), "size.tail_share", m.tail_share, 0.0, 1.0);
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

fn check_cache_rule(r: &CacheRule) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if !r.prefix.starts_with('/') {
        v.push(("prefix", format!("cache rule prefix `{}` must start with `/`", r.prefix)));
    }
    if let (Some(min), Some(max)) = (r.min_ttl, r.max_ttl)
        && min > max
    {
        v.push(("min_ttl", format!("cache rule `{}`: min_ttl {min} > max_ttl {max}", r.prefix)));
    }
    for (f, d) in [
        ("min_ttl", r.min_ttl),
        ("default_ttl", r.default_ttl),
        ("max_ttl", r.max_ttl),
        ("grace", r.grace),
        ("stale_if_error", r.stale_if_error),
        ("negative_ttl", r.negative_ttl),
    ] {
        if let Some(d) = d
            && d.0 > MAX_TTL
        {
            v.push((f, format!("cache rule `{}`: {f} {d} must be at most {} (ten years)", r.prefix, Dur(MAX_TTL))));
        }
    }
    if r.min_uses.is_some_and(|n| n == 0 || n > MAX_MIN_USES) {
        v.push(("min_uses", format!("cache rule `{}`: min_uses must be 1 to {MAX_MIN_USES}", r.prefix)));
    }
    if r.min_uses_window.is_some_and(|w| w.0.is_zero() || w.0 > MAX_WINDOW) {
        v.push((
            "min_uses_window",
            format!("cache rule `{}`: min_uses_window must be > 0 and at most {}", r.prefix, Dur(MAX_WINDOW)),
        ));
    }
    v
}

fn check_tiers(t: &[Tier]) -> Result<(), String> {
    if t.is_empty() {
        return Err("egress needs at least one tier".into());
    }
    if t.len() > MAX_RULES {
        return Err(format!("{} price tiers: at most {MAX_RULES}", t.len()));
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
