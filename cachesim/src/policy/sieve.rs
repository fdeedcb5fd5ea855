//! SIEVE (Zhang et al., NSDI '24), as libCacheSim's `Sieve.c`: new objects
//! enter at the head unvisited; a hit marks the object visited; the hand
//! starts at the tail and moves towards the head, clearing visited marks,
//! and evicts the first unvisited object; it then rests on that object's
//! newer neighbour (or returns to the tail after passing the head).

use super::Policy;
use super::list::{Link, List, NIL, ensure};
use super::slots::Slots;

/// SIEVE.
pub struct Sieve<S> {
    slots: S,
    links: Vec<Link>,
    sizes: Vec<u32>,
    visited: Vec<bool>,
    list: List,
    hand: u32,
    len: usize,
    used: u64,
    cap: u64,
}

impl<S: Slots> Sieve<S> {
    /// An empty cache of `cap` bytes.
    pub fn new(cap: u64, keys: usize) -> Self {
        let slots = S::with_keys(keys);
        let n = slots.slot_bound();
        Sieve {
            slots,
            links: vec![Link::default(); n],
            sizes: vec![0; n],
            visited: vec![false; n],
            list: List::default(),
            hand: NIL,
            len: 0,
            used: 0,
            cap,
        }
    }

    fn evict(&mut self) {
        let mut s = if self.hand == NIL { self.list.tail } else { self.hand };
        while self.visited[s as usize] {
            self.visited[s as usize] = false;
            let p = self.links[s as usize].prev;
            s = if p == NIL { self.list.tail } else { p };
        }
        self.hand = self.links[s as usize].prev;
        self.list.unlink(&mut self.links, s);
        self.used -= self.sizes[s as usize] as u64;
        self.len -= 1;
        let k = self.slots.key(s);
        self.slots.remove(k, s);
    }
}

impl<S: Slots> Policy for Sieve<S> {
    #[inline]
    fn access(&mut self, key: u64, size: u32) -> bool {
        if let Some(s) = self.slots.find(key) {
            self.visited[s as usize] = true;
            return true;
        }
        if size as u64 > self.cap {
            return false;
        }
        while self.used + size as u64 > self.cap {
            self.evict();
        }
        let s = self.slots.insert(key);
        ensure(&mut self.links, s);
        ensure(&mut self.sizes, s);
        ensure(&mut self.visited, s);
        self.sizes[s as usize] = size;
        self.visited[s as usize] = false;
        self.list.push_head(&mut self.links, s);
        self.used += size as u64;
        self.len += 1;
        false
    }

    fn used(&self) -> u64 {
        self.used
    }
    fn capacity(&self) -> u64 {
        self.cap
    }
    fn len(&self) -> usize {
        self.len
    }
    fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes() + self.links.capacity() * 8 + self.sizes.capacity() * 4 + self.visited.capacity()
    }
}
