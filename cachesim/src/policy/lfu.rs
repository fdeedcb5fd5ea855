//! LFU as libCacheSim's `LFU.c`: an object's count starts at 1 when it is
//! inserted and is forgotten when it is evicted; eviction takes, among the
//! objects with the lowest count, the one that reached that count first.
//! O(1) per request: objects sit in one list per count, the lists in a
//! list ordered by count (a hit moves an object to the next count's list).

use super::Policy;
use super::list::{Link, List, NIL, ensure};
use super::slots::Slots;

#[derive(Clone, Copy)]
struct Bucket {
    freq: u64,
    objects: List,
    prev: u32,
    next: u32,
}

/// Least frequently used (in-cache counts, FIFO among equals).
pub struct Lfu<S> {
    slots: S,
    links: Vec<Link>,
    sizes: Vec<u32>,
    bucket_of: Vec<u32>,
    buckets: Vec<Bucket>,
    free_buckets: Vec<u32>,
    /// The bucket with the lowest count.
    first: u32,
    len: usize,
    used: u64,
    cap: u64,
}

impl<S: Slots> Lfu<S> {
    /// An empty cache of `cap` bytes.
    pub fn new(cap: u64, keys: usize) -> Self {
        let slots = S::with_keys(keys);
        let n = slots.slot_bound();
        Lfu {
            slots,
            links: vec![Link::default(); n],
            sizes: vec![0; n],
            bucket_of: vec![NIL; n],
            buckets: Vec::new(),
            free_buckets: Vec::new(),
            first: NIL,
            len: 0,
            used: 0,
            cap,
        }
    }

    /// A new empty bucket for `freq`, linked after `after` (NIL: first).
    fn new_bucket(&mut self, freq: u64, after: u32) -> u32 {
        let next = if after == NIL { self.first } else { self.buckets[after as usize].next };
        let b = Bucket { freq, objects: List::default(), prev: after, next };
        let id = match self.free_buckets.pop() {
            Some(id) => {
                self.buckets[id as usize] = b;
                id
            }
            None => {
                self.buckets.push(b);
                (self.buckets.len() - 1) as u32
            }
        };
        if after == NIL {
            self.first = id;
        } else {
            self.buckets[after as usize].next = id;
        }
        if next != NIL {
            self.buckets[next as usize].prev = id;
        }
        id
    }

    fn drop_bucket_if_empty(&mut self, b: u32) {
        let Bucket { objects, prev, next, .. } = self.buckets[b as usize];
        if !objects.is_empty() {
            return;
        }
        if prev == NIL {
            self.first = next;
        } else {
            self.buckets[prev as usize].next = next;
        }
        if next != NIL {
            self.buckets[next as usize].prev = prev;
        }
        self.free_buckets.push(b);
    }
}

impl<S: Slots> Policy for Lfu<S> {
    fn access(&mut self, key: u64, size: u32) -> bool {
        if let Some(s) = self.slots.find(key) {
            let b = self.bucket_of[s as usize];
            let f = self.buckets[b as usize].freq;
            let mut nb = self.buckets[b as usize].next;
            if nb == NIL || self.buckets[nb as usize].freq != f + 1 {
                nb = self.new_bucket(f + 1, b);
            }
            self.buckets[b as usize].objects.unlink(&mut self.links, s);
            self.buckets[nb as usize].objects.push_head(&mut self.links, s);
            self.bucket_of[s as usize] = nb;
            self.drop_bucket_if_empty(b);
            return true;
        }
        if size as u64 > self.cap {
            return false;
        }
        while self.used + size as u64 > self.cap {
            let b = self.first;
            let t = self.buckets[b as usize].objects.tail;
            self.buckets[b as usize].objects.unlink(&mut self.links, t);
            self.drop_bucket_if_empty(b);
            self.used -= self.sizes[t as usize] as u64;
            self.len -= 1;
            let k = self.slots.key(t);
            self.slots.remove(k, t);
        }
        let b = if self.first != NIL && self.buckets[self.first as usize].freq == 1 {
            self.first
        } else {
            self.new_bucket(1, NIL)
        };
        let s = self.slots.insert(key);
        ensure(&mut self.links, s);
        ensure(&mut self.sizes, s);
        ensure(&mut self.bucket_of, s);
        self.sizes[s as usize] = size;
        self.bucket_of[s as usize] = b;
        self.buckets[b as usize].objects.push_head(&mut self.links, s);
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
        self.slots.heap_bytes()
            + self.links.capacity() * 8
            + self.sizes.capacity() * 4
            + self.bucket_of.capacity() * 4
            + self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }
}
