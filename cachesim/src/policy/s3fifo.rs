//! S3-FIFO (Yang et al., SOSP '23), exactly as libCacheSim's `S3FIFO.c`
//! (the 2024 version the `libcachesim` package runs):
//!
//! - a small FIFO of ⌊0.1 × capacity⌋ bytes, a main FIFO of the rest, and a
//!   ghost FIFO of ⌊0.9 × capacity⌋ bytes of keys (sizes counted, no data);
//! - a hit adds one to the object's counter (small or main queue);
//! - a miss on a ghost key removes it from the ghost and inserts the object
//!   into main; any other miss inserts into small, except before the first
//!   eviction, when a full small queue sends new objects to main;
//! - objects of at least the small queue's size are not inserted (unless
//!   they come from the ghost), yet the space for them is made first — a
//!   quirk of the reference kept for exactness; larger ones are refused
//!   before anything is evicted;
//! - eviction: from main if main is over its size or small is empty, else
//!   from small. Small's oldest object moves to main if its counter is ≥ 2
//!   (the move-to-main threshold; counter reset to 0), else leaves for the
//!   ghost; main's oldest object is reinserted at main's head with its
//!   counter min(counter, 3) − 1 while the counter is ≥ 1, else evicted.

use super::Policy;
use super::list::{Link, List, ensure};
use super::slots::Slots;

const SMALL: u8 = 0;
const MAIN: u8 = 1;
const GHOST: u8 = 2;

/// Counter at which a small-queue object moves to main.
pub const MOVE_TO_MAIN: u8 = 2;

/// S3-FIFO.
pub struct S3Fifo<S> {
    slots: S,
    links: Vec<Link>,
    sizes: Vec<u32>,
    freq: Vec<u8>,
    queue: Vec<u8>,
    small: List,
    main: List,
    ghost: List,
    used_small: u64,
    used_main: u64,
    used_ghost: u64,
    cap: u64,
    small_cap: u64,
    main_cap: u64,
    ghost_cap: u64,
    has_evicted: bool,
    len: usize,
}

impl<S: Slots> S3Fifo<S> {
    /// An empty cache of `cap` bytes (small queue 10%, ghost 90%).
    pub fn new(cap: u64, keys: usize) -> Self {
        // The reference computes these in double precision and truncates.
        let small_cap = (cap as f64 * 0.1) as u64;
        let ghost_cap = (cap as f64 * 0.9) as u64;
        let slots = S::with_keys(keys);
        let n = slots.slot_bound();
        S3Fifo {
            slots,
            links: vec![Link::default(); n],
            sizes: vec![0; n],
            freq: vec![0; n],
            queue: vec![0; n],
            small: List::default(),
            main: List::default(),
            ghost: List::default(),
            used_small: 0,
            used_main: 0,
            used_ghost: 0,
            cap,
            small_cap,
            main_cap: cap - small_cap,
            ghost_cap,
            has_evicted: false,
            len: 0,
        }
    }

    fn drop_slot(&mut self, s: u32) {
        let k = self.slots.key(s);
        self.slots.remove(k, s);
    }

    fn send_to_ghost(&mut self, s: u32) {
        let sz = self.sizes[s as usize] as u64;
        if sz > self.ghost_cap {
            self.drop_slot(s);
            return;
        }
        while self.used_ghost + sz > self.ghost_cap {
            let t = self.ghost.tail;
            self.ghost.unlink(&mut self.links, t);
            self.used_ghost -= self.sizes[t as usize] as u64;
            self.drop_slot(t);
        }
        self.queue[s as usize] = GHOST;
        self.ghost.push_head(&mut self.links, s);
        self.used_ghost += sz;
    }

    fn evict_small(&mut self) {
        while self.used_small > 0 {
            let t = self.small.tail;
            let sz = self.sizes[t as usize] as u64;
            self.small.unlink(&mut self.links, t);
            self.used_small -= sz;
            if self.freq[t as usize] >= MOVE_TO_MAIN {
                self.queue[t as usize] = MAIN;
                self.freq[t as usize] = 0;
                self.main.push_head(&mut self.links, t);
                self.used_main += sz;
            } else {
                self.len -= 1;
                self.send_to_ghost(t);
                return;
            }
        }
    }

    fn evict_main(&mut self) {
        while self.used_main > 0 {
            let t = self.main.tail;
            let f = self.freq[t as usize];
            if f >= 1 {
                self.main.move_to_head(&mut self.links, t);
                self.freq[t as usize] = f.min(3) - 1;
            } else {
                self.main.unlink(&mut self.links, t);
                self.used_main -= self.sizes[t as usize] as u64;
                self.len -= 1;
                self.drop_slot(t);
                return;
            }
        }
    }

    fn evict(&mut self) {
        self.has_evicted = true;
        if self.used_main > self.main_cap || self.used_small == 0 {
            self.evict_main();
        } else {
            self.evict_small();
        }
    }

    fn insert(&mut self, key: u64, size: u32, queue: u8) {
        let s = self.slots.insert(key);
        ensure(&mut self.links, s);
        ensure(&mut self.sizes, s);
        ensure(&mut self.freq, s);
        ensure(&mut self.queue, s);
        self.sizes[s as usize] = size;
        self.freq[s as usize] = 0;
        self.queue[s as usize] = queue;
        if queue == MAIN {
            self.main.push_head(&mut self.links, s);
            self.used_main += size as u64;
        } else {
            self.small.push_head(&mut self.links, s);
            self.used_small += size as u64;
        }
        self.len += 1;
    }
}

impl<S: Slots> Policy for S3Fifo<S> {
    fn access(&mut self, key: u64, size: u32) -> bool {
        let mut from_ghost = false;
        if let Some(s) = self.slots.find(key) {
            if self.queue[s as usize] == GHOST {
                self.ghost.unlink(&mut self.links, s);
                self.used_ghost -= self.sizes[s as usize] as u64;
                self.drop_slot(s);
                from_ghost = true;
            } else {
                let f = &mut self.freq[s as usize];
                *f = f.saturating_add(1);
                return true;
            }
        }
        let size64 = size as u64;
        if size64 > self.small_cap || size64 > self.cap {
            return false;
        }
        while self.used_small + self.used_main + size64 > self.cap {
            self.evict();
        }
        if from_ghost {
            self.insert(key, size, MAIN);
        } else if size64 >= self.small_cap {
            // the reference makes room, then declines the insert
        } else if !self.has_evicted && self.used_small >= self.small_cap {
            self.insert(key, size, MAIN);
        } else {
            self.insert(key, size, SMALL);
        }
        false
    }

    fn used(&self) -> u64 {
        self.used_small + self.used_main
    }
    fn capacity(&self) -> u64 {
        self.cap
    }
    fn len(&self) -> usize {
        self.len
    }
    fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes() + self.links.capacity() * 8 + self.sizes.capacity() * 4 + self.freq.capacity() * 2
    }
}
