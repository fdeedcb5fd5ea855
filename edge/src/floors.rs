//! Purge floors of a replicated origin, one per purged scope.
//!
//! A purge sent with `origin_seq` (the primary's position when it was
//! sent) says: no fill of *what this purge named* may come from an origin
//! site below that position ([`crate::origins`]). So the floor is kept per
//! scope, the URL, prefix or tag the purge named, and a fill is held to
//! the highest floor among the scopes that cover it (its key, or its
//! answer's surrogate keys), plus the global floor (a purge of
//! everything). A replica that lags keeps serving every object no purge
//! named since it fell behind; only the purged ones go to a farther site.
//!
//! **Bounded.** A scoped floor is folded into the global floor once every
//! site not known down has reported a position at or past it
//! ([`Floors::expire`], after each round of checks): from then on the
//! global floor costs the live sites nothing, and it still stops a site
//! that was down and comes back behind. At most [`MAX_SCOPED`] scoped
//! floors are kept; beyond that the oldest is folded in early, which is
//! safe (the global floor is stricter) and costs only farther fills.
//!
//! A tag floor is matched against the surrogate keys of the answer being
//! checked: an old version that did not carry the tag is not held back by
//! it (the purge could not have removed it from a cache either).

use std::collections::VecDeque;

use api::purge::Target;
use http::HeaderMap;
use parking_lot::Mutex;

use crate::headers::tags_of;

/// Most scoped floors kept at once.
pub const MAX_SCOPED: usize = 4096;

/// The floors of one edge.
#[derive(Debug, Default)]
pub struct Floors {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Every fill's floor: purges of everything, and folded scoped floors.
    all: u64,
    /// Scoped floors, oldest first (a scope named again is raised in place).
    scoped: VecDeque<(Target, u64)>,
}

impl Inner {
    fn fold_oldest(&mut self) {
        if let Some((_, p)) = self.scoped.pop_front() {
            self.all = self.all.max(p);
        }
    }
}

/// Whether `target` names the fill of `key` answered with `headers`
/// (tags parsed once, when first needed).
fn covers(target: &Target, key: &str, headers: &HeaderMap, tags: &mut Option<Vec<String>>) -> bool {
    match target {
        Target::Url(u) => key.split('\0').next() == Some(u.as_str()),
        Target::Prefix(p) => key.starts_with(p.as_str()),
        Target::Tag(t) => tags.get_or_insert_with(|| tags_of(headers)).iter().any(|x| x == t),
        Target::All => true,
    }
}

impl Floors {
    /// A purge of `target` at origin position `position`: raises that
    /// scope's floor (never lowers it).
    pub fn raise(&self, target: &Target, position: u64) {
        let mut i = self.inner.lock();
        if position <= i.all {
            return;
        }
        if let Target::All = target {
            i.all = position;
            i.scoped.retain(|(_, p)| *p > position);
            return;
        }
        if let Some((_, p)) = i.scoped.iter_mut().find(|(t, _)| t == target) {
            *p = (*p).max(position);
            return;
        }
        if i.scoped.len() >= MAX_SCOPED {
            i.fold_oldest();
        }
        i.scoped.push_back((target.clone(), position));
    }

    /// The position a fill of `key` answered with `headers` must have reached.
    pub fn required(&self, key: &str, headers: &HeaderMap) -> u64 {
        let i = self.inner.lock();
        let mut tags = None;
        i.scoped
            .iter()
            .filter(|(t, p)| *p > i.all && covers(t, key, headers, &mut tags))
            .map(|(_, p)| *p)
            .fold(i.all, u64::max)
    }

    /// Every site not known down is at `passed` or beyond: scoped floors
    /// up to it join the global floor.
    pub fn expire(&self, passed: u64) {
        let mut i = self.inner.lock();
        let folded = i.scoped.iter().filter(|(_, p)| *p <= passed).map(|(_, p)| *p).max();
        if let Some(p) = folded {
            i.all = i.all.max(p);
            i.scoped.retain(|(_, p)| *p > passed);
        }
    }

    /// The global floor.
    pub fn global(&self) -> u64 {
        self.inner.lock().all
    }

    /// Scoped floors kept now.
    pub fn scoped(&self) -> usize {
        self.inner.lock().scoped.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(tags: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("surrogate-key", tags.parse().unwrap());
        h
    }

    #[test]
    fn a_floor_holds_only_what_its_purge_named() {
        let f = Floors::default();
        let none = HeaderMap::new();
        f.raise(&Target::Url("/obj/2".into()), 10);
        f.raise(&Target::Prefix("/img/".into()), 20);
        f.raise(&Target::Tag("team-a".into()), 30);
        assert_eq!(f.required("/obj/2", &none), 10);
        assert_eq!(f.required("/obj/2\0slice=3", &none), 10, "a slice of the URL");
        assert_eq!(f.required("/obj/2?x=1", &none), 0, "another URL");
        assert_eq!(f.required("/obj/3", &none), 0);
        assert_eq!(f.required("/img/a.png", &none), 20);
        assert_eq!(f.required("/obj/3", &tagged("x team-a")), 30);
        assert_eq!(f.required("/obj/2", &tagged("team-a")), 30, "the highest covering floor");
        f.raise(&Target::All, 15);
        assert_eq!((f.required("/obj/3", &none), f.required("/obj/2", &none)), (15, 15));
        assert_eq!(f.required("/img/a.png", &none), 20);
        assert_eq!(f.scoped(), 2, "the URL floor below the global one is gone");
    }

    #[test]
    fn floors_every_site_passed_join_the_global_floor_and_the_count_is_bounded() {
        let f = Floors::default();
        let none = HeaderMap::new();
        f.raise(&Target::Url("/a".into()), 10);
        f.raise(&Target::Url("/b".into()), 20);
        f.raise(&Target::Url("/a".into()), 12);
        assert_eq!(f.scoped(), 2, "a scope named again is raised in place");
        f.expire(15);
        assert_eq!((f.scoped(), f.global()), (1, 12));
        assert_eq!(f.required("/b", &none), 20);
        for i in 0..MAX_SCOPED as u64 + 10 {
            f.raise(&Target::Url(format!("/n/{i}")), 100 + i);
        }
        assert_eq!(f.scoped(), MAX_SCOPED);
        // `/b` and `/n/0` … `/n/9` folded in early, oldest first.
        assert_eq!(f.global(), 109);
        assert_eq!(f.required("/n/5", &none), 109, "a folded floor still holds");
        assert_eq!(f.required("/n/10", &none), 110);
    }
}
