//! LRU: a hit moves the object to the head; evictions take the tail.

use super::Policy;
use super::list::{Link, List, ensure};
use super::slots::Slots;

/// Least recently used.
pub struct Lru<S> {
    slots: S,
    links: Vec<Link>,
    sizes: Vec<u32>,
    list: List,
    len: usize,
    used: u64,
    cap: u64,
}

impl<S: Slots> Lru<S> {
    /// An empty cache of `cap` bytes.
    pub fn new(cap: u64, keys: usize) -> Self {
        let slots = S::with_keys(keys);
        let n = slots.slot_bound();
        Lru { slots, links: vec![Link::default(); n], sizes: vec![0; n], list: List::default(), len: 0, used: 0, cap }
    }
}

impl<S: Slots> Policy for Lru<S> {
    #[inline]
    fn access(&mut self, key: u64, size: u32) -> bool {
        if let Some(s) = self.slots.find(key) {
            self.list.move_to_head(&mut self.links, s);
            return true;
        }
        if size as u64 > self.cap {
            return false;
        }
        while self.used + size as u64 > self.cap {
            let t = self.list.tail;
            self.list.unlink(&mut self.links, t);
            self.used -= self.sizes[t as usize] as u64;
            self.len -= 1;
            let k = self.slots.key(t);
            self.slots.remove(k, t);
        }
        let s = self.slots.insert(key);
        ensure(&mut self.links, s);
        ensure(&mut self.sizes, s);
        self.sizes[s as usize] = size;
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
        self.slots.heap_bytes() + self.links.capacity() * 8 + self.sizes.capacity() * 4
    }
}
