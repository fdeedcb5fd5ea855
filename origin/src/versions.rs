//! Object versions: a path's version is 1 + the number of bumps covering
//! it (bumps of the exact path, and of every prefix of it). A bump gives
//! catalog objects a new body, ETag and `Last-Modified`; for a real file it
//! changes the ETag and `Last-Modified` only (as `touch` would).

use std::collections::HashMap;
use std::time::SystemTime;

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// Most distinct exact paths that may be bumped.
pub const MAX_BUMPED_PATHS: usize = 1_000_000;
/// Most distinct prefixes that may be bumped.
pub const MAX_BUMPED_PREFIXES: usize = 10_000;

pub use api::origin::{Bump, Bumped};

/// Why a bump was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BumpError {
    /// The path or prefix does not start with `/`.
    #[error("`{0}` must start with `/`")]
    NotAbsolute(String),
    /// Too many distinct bumped paths or prefixes.
    #[error("too many distinct bumped {0} (limit {1})")]
    Full(&'static str, usize),
}

/// A path's version and when it appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// 1 + bumps covering the path.
    pub n: u64,
    /// Unix seconds when this version appeared (the origin's start for 1).
    pub since: u64,
}

/// The bump table.
#[derive(Debug)]
pub struct Versions {
    /// Unix seconds of version 1 (a replica takes its primary's).
    started: AtomicU64,
    inner: RwLock<Table>,
}

#[derive(Debug, Default)]
struct Table {
    // path or prefix → (bumps, Unix seconds of the last one)
    exact: HashMap<String, (u64, u64)>,
    prefixes: HashMap<String, (u64, u64)>,
}

impl Versions {
    /// A table where every path is at version 1 since `started`.
    pub fn new(started: SystemTime) -> Self {
        Self { started: AtomicU64::new(unix(started)), inner: RwLock::new(Table::default()) }
    }

    /// The version of `path`.
    pub fn of(&self, path: &str) -> Version {
        let t = self.inner.read();
        let mut v = Version { n: 1, since: self.started() };
        let mut add = |(n, at): (u64, u64)| {
            v.n += n;
            v.since = v.since.max(at);
        };
        if let Some(e) = t.exact.get(path) {
            add(*e);
        }
        for (p, e) in &t.prefixes {
            if path.starts_with(p.as_str()) {
                add(*e);
            }
        }
        v
    }

    /// Unix seconds of version 1.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Makes version 1 date from `secs` (a replica, from its primary, so
    /// both send the same `Last-Modified`).
    pub fn set_started(&self, secs: u64) {
        self.started.store(secs, Ordering::Relaxed);
    }

    /// Replaces every bump with `bumps` (bump, when), in one step: a
    /// replica rebuilding from a new primary's log never shows a table
    /// half rebuilt.
    pub fn rebuild<'b>(&self, bumps: impl IntoIterator<Item = (&'b Bump, SystemTime)>) -> Result<(), BumpError> {
        let fresh = Versions::new(SystemTime::UNIX_EPOCH);
        for (b, at) in bumps {
            fresh.bump(b, at)?;
        }
        *self.inner.write() = fresh.inner.into_inner();
        Ok(())
    }

    /// Applies a bump at `now`.
    pub fn bump(&self, b: &Bump, now: SystemTime) -> Result<Bumped, BumpError> {
        let at = unix(now);
        let (key, table_is_exact) = match b {
            Bump::Path(p) => (p, true),
            Bump::Prefix(p) => (p, false),
        };
        if !key.starts_with('/') {
            return Err(BumpError::NotAbsolute(key.clone()));
        }
        let bumps = {
            let mut t = self.inner.write();
            let (table, what, limit) = if table_is_exact {
                (&mut t.exact, "paths", MAX_BUMPED_PATHS)
            } else {
                (&mut t.prefixes, "prefixes", MAX_BUMPED_PREFIXES)
            };
            if !table.contains_key(key.as_str()) && table.len() >= limit {
                return Err(BumpError::Full(what, limit));
            }
            let e = table.entry(key.clone()).or_insert((0, at));
            e.0 += 1;
            e.1 = e.1.max(at);
            e.0
        };
        Ok(match b {
            Bump::Path(p) => Bumped { path: Some(p.clone()), prefix: None, version: Some(self.of(p).n), bumps, at },
            Bump::Prefix(p) => Bumped { path: None, prefix: Some(p.clone()), version: None, bumps, at },
        })
    }
}

/// Unix seconds of a time (0 before the epoch).
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn a_version_counts_exact_and_prefix_bumps() {
        let v = Versions::new(at(100));
        assert_eq!(v.of("/obj/7"), Version { n: 1, since: 100 });
        let b = v.bump(&Bump::Path("/obj/7".into()), at(110)).unwrap();
        assert_eq!((b.version, b.bumps, b.at), (Some(2), 1, 110));
        v.bump(&Bump::Prefix("/obj/".into()), at(120)).unwrap();
        assert_eq!(v.of("/obj/7"), Version { n: 3, since: 120 });
        assert_eq!(v.of("/obj/8"), Version { n: 2, since: 120 });
        assert_eq!(v.of("/img/a"), Version { n: 1, since: 100 });
        v.bump(&Bump::Prefix("/obj/".into()), at(130)).unwrap();
        assert_eq!(v.of("/obj/8"), Version { n: 3, since: 130 });
    }

    #[test]
    fn bumps_must_name_absolute_paths() {
        let v = Versions::new(at(0));
        assert!(matches!(v.bump(&Bump::Path("obj/7".into()), at(1)), Err(BumpError::NotAbsolute(_))));
        assert!(v.bump(&Bump::Prefix(String::new()), at(1)).is_err());
    }

    #[test]
    fn bump_json_is_path_or_prefix() {
        assert_eq!(serde_json::from_str::<Bump>(r#"{"path":"/obj/7"}"#).unwrap(), Bump::Path("/obj/7".into()));
        assert_eq!(serde_json::from_str::<Bump>(r#"{"prefix":"/obj/"}"#).unwrap(), Bump::Prefix("/obj/".into()));
        assert!(serde_json::from_str::<Bump>(r#"{"url":"/obj/7"}"#).is_err());
        assert!(serde_json::from_str::<Bump>(r#"{"path":"/a","prefix":"/b"}"#).is_err());
    }
}
