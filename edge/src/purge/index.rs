//! The edge's own index of what it stored, because foyer cannot list keys:
//! every store key in order (for URL and prefix purges: a range scan), and
//! surrogate key → store keys (for tag purges). A purge costs what it
//! matches (`O(log n + m)`), never a walk over the cache.
//!
//! Each key remembers the stamp of the stored value (its `stored_ms`, see
//! [`super::Purger`]) and the purge count when it was stored, so a purge
//! that had to wait for a disk read can tell whether a newer value has
//! replaced the one it read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use crate::key::CacheKey;

use super::spec::{Target, primary_is};

/// What the index is told of one store key (and hands back whole for
/// snapshots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Surrogate keys of the stored response.
    pub tags: Vec<String>,
    /// Stamp (`stored_ms`) of the stored value.
    pub stamp: u64,
    /// Purges registered when it was stored.
    pub admitted: u64,
    /// A response (not a `VarySpec` pointer).
    pub response: bool,
}

/// What a lookup needs of one store key (no tags: nothing to allocate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Stamp (`stored_ms`) of the stored value.
    pub stamp: u64,
    /// Purges registered when it was stored.
    pub admitted: u64,
    /// A response (not a `VarySpec` pointer).
    pub response: bool,
}

/// One key's entry, compact (the index holds every key of both tiers,
/// a million at a time: docs/memory.md): its tags in one allocation.
#[derive(Debug)]
struct Slot {
    tags: Tags,
    stamp: Stamp,
}

/// Surrogate keys in one allocation, `\n`-separated (tags come from
/// field values, which hold no LF), or none.
#[derive(Debug, Default)]
struct Tags(Option<Box<str>>);

impl Tags {
    fn of(tags: &[String]) -> Tags {
        Tags((!tags.is_empty()).then(|| tags.join("\n").into_boxed_str()))
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.as_deref().into_iter().flat_map(|t| t.split('\n'))
    }
}

/// The keys of one tag: most tags name one object (`obj-7`), so one key
/// is held inline and a set only from the second.
#[derive(Debug)]
enum Keys {
    One(CacheKey),
    // Boxed on purpose: the set inline (48 bytes) would make every
    // one-key tag's slot in the map that much larger.
    #[allow(clippy::box_collection)]
    Many(Box<HashSet<CacheKey>>),
}

/// Keys in order, and tag → keys. The tag map is keyed by a hash of the
/// tag (a seeded one, so an origin cannot aim tags at one slot): the tag's
/// own string is in each key's [`Slot`], and a tag purge checks it there,
/// so a collision of two tags' hashes costs a look at the other's keys,
/// never a wrong match.
#[derive(Debug, Default)]
pub struct Index {
    keys: BTreeMap<CacheKey, Slot>,
    tags: HashMap<u64, Keys>,
    seed: std::hash::RandomState,
    responses: usize,
}

impl Index {
    /// Keys indexed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Responses indexed (keys minus `VarySpec` pointers).
    pub fn responses(&self) -> usize {
        self.responses
    }

    /// Distinct surrogate keys.
    pub fn tag_count(&self) -> usize {
        self.tags.len()
    }

    /// What is known of `key`.
    pub fn get(&self, key: &str) -> Option<Stamp> {
        self.keys.get(key).map(|s| s.stamp)
    }

    fn hash(&self, tag: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.seed, tag)
    }

    /// Records (or replaces) a stored key.
    pub fn add(&mut self, key: CacheKey, info: KeyInfo) {
        let stamp = Stamp { stamp: info.stamp, admitted: info.admitted, response: info.response };
        let new: Vec<u64> = info.tags.iter().map(|t| self.hash(t)).collect();
        if let Some(old) = self.keys.get(key.as_str()) {
            let gone: Vec<u64> = old.tags.iter().map(|t| self.hash(t)).filter(|h| !new.contains(h)).collect();
            for h in gone {
                self.untag(h, &key);
            }
        }
        for h in new {
            self.tag(h, &key);
        }
        if info.response {
            self.responses += 1;
        }
        if let Some(old) = self.keys.insert(key, Slot { tags: Tags::of(&info.tags), stamp })
            && old.stamp.response
        {
            self.responses -= 1;
        }
    }

    /// Forgets a key.
    pub fn remove(&mut self, key: &str) -> Option<Stamp> {
        let (k, slot) = self.keys.remove_entry(key)?;
        if slot.stamp.response {
            self.responses -= 1;
        }
        for t in slot.tags.iter() {
            self.untag(self.hash(t), &k);
        }
        Some(slot.stamp)
    }

    fn tag(&mut self, tag: u64, key: &CacheKey) {
        match self.tags.get_mut(&tag) {
            None => {
                self.tags.insert(tag, Keys::One(key.clone()));
            }
            Some(Keys::One(k)) if k == key => {}
            Some(keys @ Keys::One(_)) => {
                let Keys::One(first) = std::mem::replace(keys, Keys::Many(Box::default())) else { unreachable!() };
                if let Keys::Many(set) = keys {
                    set.insert(first);
                    set.insert(key.clone());
                }
            }
            Some(Keys::Many(set)) => {
                set.insert(key.clone());
            }
        }
    }

    fn untag(&mut self, tag: u64, key: &CacheKey) {
        let empty = match self.tags.get_mut(&tag) {
            Some(Keys::One(k)) => k == key,
            Some(Keys::Many(set)) => {
                set.remove(key);
                set.is_empty()
            }
            None => false,
        };
        if empty {
            self.tags.remove(&tag);
        }
    }

    /// Updates the stamp of a key after a soft purge re-stored it.
    pub fn restamp(&mut self, key: &str, stamp: u64, admitted: u64) {
        if let Some(s) = self.keys.get_mut(key) {
            s.stamp.stamp = stamp;
            s.stamp.admitted = admitted;
        }
    }

    /// The keys a (non-`All`) target covers, with what is known of them.
    pub fn matching(&self, target: &Target) -> Vec<(CacheKey, Stamp)> {
        let range_from = |start: &str| self.keys.range::<str, _>((Bound::Included(start), Bound::Unbounded));
        match target {
            // `\0` sorts first: the URL's derived keys follow it directly.
            Target::Url(u) => range_from(u)
                .take_while(|(k, _)| primary_is(k.as_str(), u))
                .map(|(k, s)| (k.clone(), s.stamp))
                .collect(),
            Target::Prefix(p) => range_from(p)
                .take_while(|(k, _)| k.as_str().starts_with(p.as_str()))
                .map(|(k, s)| (k.clone(), s.stamp))
                .collect(),
            Target::Tag(t) => {
                let found = |k: &CacheKey| {
                    let slot = self.keys.get(k.as_str())?;
                    slot.tags.iter().any(|x| x == t).then(|| (k.clone(), slot.stamp))
                };
                match self.tags.get(&self.hash(t)) {
                    None => Vec::new(),
                    Some(Keys::One(k)) => found(k).into_iter().collect(),
                    Some(Keys::Many(set)) => set.iter().filter_map(found).collect(),
                }
            }
            Target::All => self.keys.iter().map(|(k, s)| (k.clone(), s.stamp)).collect(),
        }
    }

    /// Every key with what is known of it, in order (for snapshots).
    pub fn iter(&self) -> impl Iterator<Item = (&CacheKey, KeyInfo)> {
        self.keys.iter().map(|(k, s)| {
            let tags = s.tags.iter().map(String::from).collect();
            (k, KeyInfo { tags, stamp: s.stamp.stamp, admitted: s.stamp.admitted, response: s.stamp.response })
        })
    }

    /// Keeps only the keys for which `keep` says yes; returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&CacheKey) -> bool) -> usize {
        let gone: Vec<CacheKey> = self.keys.keys().filter(|k| !keep(k)).cloned().collect();
        for k in &gone {
            self.remove(k.as_str());
        }
        gone.len()
    }

    /// Empties the index, handing the old contents back (so the caller can
    /// drop them off the lock: purge-all stays O(1) under it).
    pub fn take(&mut self) -> Index {
        std::mem::take(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CacheKey {
        CacheKey::from_stored(s.to_string())
    }

    fn info(tags: &[&str]) -> KeyInfo {
        KeyInfo { tags: tags.iter().map(|t| t.to_string()).collect(), stamp: 1, admitted: 0, response: true }
    }

    fn names(v: Vec<(CacheKey, Stamp)>) -> Vec<String> {
        let mut n: Vec<String> = v.into_iter().map(|(k, _)| k.as_str().replace('\0', "|")).collect();
        n.sort();
        n
    }

    fn sample() -> Index {
        let mut ix = Index::default();
        ix.add(key("/obj/7"), KeyInfo { response: false, ..info(&[]) });
        ix.add(key("/obj/7\0accept-encoding=gzip"), info(&["obj-7", "group-7"]));
        ix.add(key("/obj/7\0accept-encoding=br"), info(&["obj-7", "group-7"]));
        ix.add(key("/obj/7?x=1"), info(&["obj-7"]));
        ix.add(key("/obj/70"), info(&["obj-70", "group-70"]));
        ix.add(key("/obj/8\0slice=0"), info(&["obj-8"]));
        ix.add(key("/obj/8\0slice=1"), info(&["obj-8"]));
        ix.add(key("/img/a.png"), info(&["group-7"]));
        ix
    }

    #[test]
    fn url_takes_the_key_and_its_derived_keys_only() {
        let ix = sample();
        assert_eq!(
            names(ix.matching(&Target::Url("/obj/7".into()))),
            ["/obj/7", "/obj/7|accept-encoding=br", "/obj/7|accept-encoding=gzip"]
        );
        assert_eq!(names(ix.matching(&Target::Url("/obj/8".into()))), ["/obj/8|slice=0", "/obj/8|slice=1"]);
        assert_eq!(names(ix.matching(&Target::Url("/obj/7?x=1".into()))), ["/obj/7?x=1"]);
        assert!(ix.matching(&Target::Url("/obj/9".into())).is_empty());
    }

    #[test]
    fn prefix_is_a_range_and_tags_are_a_lookup() {
        let ix = sample();
        assert_eq!(ix.matching(&Target::Prefix("/obj/".into())).len(), 7);
        assert_eq!(ix.matching(&Target::Prefix("/obj/7".into())).len(), 5);
        assert_eq!(names(ix.matching(&Target::Prefix("/img".into()))), ["/img/a.png"]);
        assert_eq!(
            names(ix.matching(&Target::Tag("group-7".into()))),
            ["/img/a.png", "/obj/7|accept-encoding=br", "/obj/7|accept-encoding=gzip"]
        );
        assert!(ix.matching(&Target::Tag("nope".into())).is_empty());
    }

    #[test]
    fn replacing_and_removing_keep_tags_and_counts_exact() {
        let mut ix = sample();
        assert_eq!((ix.len(), ix.responses()), (8, 7));
        ix.add(key("/img/a.png"), info(&["group-8"]));
        assert!(ix.matching(&Target::Tag("group-7".into())).iter().all(|(k, _)| k.as_str() != "/img/a.png"));
        assert_eq!(ix.matching(&Target::Tag("group-8".into())).len(), 1);
        assert_eq!((ix.len(), ix.responses()), (8, 7));
        ix.remove("/obj/70");
        assert_eq!(ix.tag_count(), 4, "obj-70 and group-70 are gone with their last key");
        assert_eq!(ix.retain(|k| !k.as_str().starts_with("/obj/8")), 2);
        assert_eq!((ix.len(), ix.responses()), (5, 4));
        let old = ix.take();
        assert_eq!((ix.len(), ix.tag_count(), old.len()), (0, 0, 5));
    }
}
