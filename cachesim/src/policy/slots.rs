//! Key → slot maps. A policy keeps its per-object metadata in arrays
//! indexed by slot; the map says which slot (if any) holds a key.
//!
//! - [`Dense`]: keys are already small dense numbers (an in-memory trace
//!   numbers its objects 0..n in order of first appearance): the slot *is*
//!   the key and presence is one bit, so a lookup touches one cache line
//!   of a bitmap (n/8 bytes) and nothing is hashed.
//! - [`Hashed`]: any 64-bit key (a hash of a URL, for the edge's shadow
//!   caches); a hash map to slots, a free list reuses the slots of evicted
//!   objects, so a cache in steady state allocates nothing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Where a policy finds the slot of a key.
pub trait Slots: Send {
    /// A map for keys below `dense_keys` (dense) or any keys (hashed;
    /// `dense_keys` is then a capacity hint).
    fn with_keys(dense_keys: usize) -> Self;
    /// The slot of `key`, if it has one.
    fn find(&self, key: u64) -> Option<u32>;
    /// Gives `key` (which has none) a slot.
    fn insert(&mut self, key: u64) -> u32;
    /// Frees the slot of `key`.
    fn remove(&mut self, key: u64, slot: u32);
    /// The key in `slot`.
    fn key(&self, slot: u32) -> u64;
    /// One more than the largest slot handed out so far.
    fn slot_bound(&self) -> usize;
    /// Heap bytes held.
    fn heap_bytes(&self) -> usize;
}

/// Slots for dense keys `0..n`: slot = key.
pub struct Dense {
    bits: Vec<u64>,
    n: usize,
}

impl Slots for Dense {
    fn with_keys(n: usize) -> Self {
        Dense { bits: vec![0; n.div_ceil(64)], n }
    }

    #[inline]
    fn find(&self, key: u64) -> Option<u32> {
        let w = self.bits[(key >> 6) as usize];
        (w >> (key & 63) & 1 == 1).then_some(key as u32)
    }

    #[inline]
    fn insert(&mut self, key: u64) -> u32 {
        self.bits[(key >> 6) as usize] |= 1 << (key & 63);
        key as u32
    }

    #[inline]
    fn remove(&mut self, key: u64, _slot: u32) {
        self.bits[(key >> 6) as usize] &= !(1 << (key & 63));
    }

    #[inline]
    fn key(&self, slot: u32) -> u64 {
        slot as u64
    }

    fn slot_bound(&self) -> usize {
        self.n
    }

    fn heap_bytes(&self) -> usize {
        self.bits.len() * 8
    }
}

/// A hasher for keys that are already hashes (or ids): one multiply-xorshift.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    #[inline]
    fn write_u64(&mut self, k: u64) {
        let z = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = z ^ (z >> 29);
    }
}

/// Slots for arbitrary 64-bit keys.
pub struct Hashed {
    map: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    keys: Vec<u64>,
    free: Vec<u32>,
}

impl Slots for Hashed {
    fn with_keys(hint: usize) -> Self {
        let hint = hint.min(1 << 24);
        Hashed {
            map: HashMap::with_capacity_and_hasher(hint, BuildHasherDefault::default()),
            keys: Vec::with_capacity(hint),
            free: Vec::new(),
        }
    }

    #[inline]
    fn find(&self, key: u64) -> Option<u32> {
        self.map.get(&key).copied()
    }

    #[inline]
    fn insert(&mut self, key: u64) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => {
                self.keys[s as usize] = key;
                s
            }
            None => {
                self.keys.push(key);
                (self.keys.len() - 1) as u32
            }
        };
        self.map.insert(key, slot);
        slot
    }

    #[inline]
    fn remove(&mut self, key: u64, slot: u32) {
        self.map.remove(&key);
        self.free.push(slot);
    }

    #[inline]
    fn key(&self, slot: u32) -> u64 {
        self.keys[slot as usize]
    }

    fn slot_bound(&self) -> usize {
        self.keys.len()
    }

    fn heap_bytes(&self) -> usize {
        // hashbrown: one (key, value) pair and one control byte per bucket
        self.map.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + self.keys.capacity() * 8
            + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise<S: Slots>(mut s: S, keys: [u64; 3]) {
        assert_eq!(s.find(keys[0]), None);
        let a = s.insert(keys[0]);
        let b = s.insert(keys[1]);
        assert_eq!(s.find(keys[0]), Some(a));
        assert_eq!(s.key(b), keys[1]);
        s.remove(keys[0], a);
        assert_eq!(s.find(keys[0]), None);
        let c = s.insert(keys[2]);
        assert_eq!(s.find(keys[2]), Some(c));
        assert!(s.slot_bound() > c as usize);
    }

    #[test]
    fn dense_and_hashed_slots_behave_alike() {
        exercise(Dense::with_keys(200), [3, 130, 64]);
        exercise(Hashed::with_keys(4), [u64::MAX, 7, 1 << 40]);
        // the hashed map reuses a freed slot
        let mut h = Hashed::with_keys(0);
        let a = h.insert(1);
        h.remove(1, a);
        assert_eq!(h.insert(2), a);
    }
}
