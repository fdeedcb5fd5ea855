//! W-TinyLFU (Einziger, Friedman, Manes; Caffeine's design), by bytes:
//!
//! - a window LRU of 1% of the capacity takes every new object;
//! - the rest is an SLRU: probation (20%) and protected (80%); a hit in
//!   probation promotes to protected, whose overflow is demoted back to
//!   probation's head;
//! - objects leaving the window are candidates for the main area: admitted
//!   while there is room; otherwise the candidate's estimated frequency is
//!   compared with the probation tail's (the victim): the candidate wins
//!   only if strictly more frequent, and then evicts victims until it fits
//!   (each compared in turn; a loss evicts the candidate instead);
//! - frequencies come from a count-min sketch of 4-bit counters (four
//!   rows), incremented on every request and halved after 10 × width
//!   increments, so old popularity fades.
//!
//! Not modelled: Caffeine's doorkeeper, its adaptive window size and its
//! random admission of warm candidates. libCacheSim's `WTinyLFU.c` differs
//! in its sketch and hashing, so the two are not expected to agree exactly.

use super::Policy;
use super::list::{Link, List, NIL, ensure};
use super::slots::Slots;

const WINDOW: u8 = 0;
const PROBATION: u8 = 1;
const PROTECTED: u8 = 2;

/// A count-min sketch of 4-bit counters, 16 to a word.
struct Sketch {
    table: Vec<u64>,
    mask: u64,
    additions: u64,
    sample: u64,
}

impl Sketch {
    fn new(width: usize) -> Sketch {
        let width = width.next_power_of_two().max(64);
        Sketch {
            table: vec![0; width / 16 * 4],
            mask: (width / 16 * 4 - 1) as u64,
            additions: 0,
            sample: 10 * width as u64,
        }
    }

    #[inline]
    fn index(&self, key: u64, row: u64) -> (usize, u32) {
        let h = world::rng::mix(key ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        ((h & self.mask) as usize, ((h >> 60) as u32) * 4)
    }

    fn frequency(&self, key: u64) -> u64 {
        (0..4)
            .map(|r| {
                let (i, shift) = self.index(key, r);
                (self.table[i] >> shift) & 15
            })
            .min()
            .unwrap_or(0)
    }

    fn increment(&mut self, key: u64) {
        let mut added = false;
        for r in 0..4 {
            let (i, shift) = self.index(key, r);
            if (self.table[i] >> shift) & 15 < 15 {
                self.table[i] += 1 << shift;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample {
                for w in &mut self.table {
                    *w = (*w >> 1) & 0x7777_7777_7777_7777;
                }
                self.additions /= 2;
            }
        }
    }
}

/// Window TinyLFU.
pub struct WTinyLfu<S> {
    slots: S,
    links: Vec<Link>,
    sizes: Vec<u32>,
    area: Vec<u8>,
    window: List,
    probation: List,
    protected: List,
    used_window: u64,
    used_probation: u64,
    used_protected: u64,
    cap: u64,
    window_cap: u64,
    main_cap: u64,
    protected_cap: u64,
    sketch: Sketch,
    len: usize,
}

impl<S: Slots> WTinyLfu<S> {
    /// An empty cache of `cap` bytes; the sketch has one counter per KiB of
    /// capacity (at least 1,024, at most 2^24).
    pub fn new(cap: u64, keys: usize) -> Self {
        let window_cap = (cap / 100).max(1).min(cap);
        let main_cap = cap - window_cap;
        let slots = S::with_keys(keys);
        let n = slots.slot_bound();
        WTinyLfu {
            slots,
            links: vec![Link::default(); n],
            sizes: vec![0; n],
            area: vec![0; n],
            window: List::default(),
            probation: List::default(),
            protected: List::default(),
            used_window: 0,
            used_probation: 0,
            used_protected: 0,
            cap,
            window_cap,
            main_cap,
            protected_cap: main_cap / 10 * 8,
            sketch: Sketch::new((cap / 1024).clamp(1024, 1 << 24) as usize),
            len: 0,
        }
    }

    fn remove(&mut self, s: u32) {
        let sz = self.sizes[s as usize] as u64;
        match self.area[s as usize] {
            WINDOW => {
                self.window.unlink(&mut self.links, s);
                self.used_window -= sz;
            }
            PROBATION => {
                self.probation.unlink(&mut self.links, s);
                self.used_probation -= sz;
            }
            _ => {
                self.protected.unlink(&mut self.links, s);
                self.used_protected -= sz;
            }
        }
        self.len -= 1;
        let k = self.slots.key(s);
        self.slots.remove(k, s);
    }

    /// A window leaver asks for a place in the main area.
    fn admit(&mut self, c: u32) {
        let sz = self.sizes[c as usize] as u64;
        if sz > self.main_cap {
            self.remove(c);
            return;
        }
        self.window.unlink(&mut self.links, c);
        self.used_window -= sz;
        let fc = self.sketch.frequency(self.slots.key(c));
        while self.used_probation + self.used_protected + sz > self.main_cap {
            let v = if self.probation.tail != NIL { self.probation.tail } else { self.protected.tail };
            let fv = self.sketch.frequency(self.slots.key(v));
            if fc > fv {
                self.remove(v);
            } else {
                // the candidate loses: it leaves the cache
                self.len -= 1;
                let k = self.slots.key(c);
                self.slots.remove(k, c);
                return;
            }
        }
        self.area[c as usize] = PROBATION;
        self.probation.push_head(&mut self.links, c);
        self.used_probation += sz;
    }
}

impl<S: Slots> Policy for WTinyLfu<S> {
    fn access(&mut self, key: u64, size: u32) -> bool {
        self.sketch.increment(key);
        if let Some(s) = self.slots.find(key) {
            match self.area[s as usize] {
                WINDOW => self.window.move_to_head(&mut self.links, s),
                PROBATION => {
                    let sz = self.sizes[s as usize] as u64;
                    self.probation.unlink(&mut self.links, s);
                    self.used_probation -= sz;
                    self.area[s as usize] = PROTECTED;
                    self.protected.push_head(&mut self.links, s);
                    self.used_protected += sz;
                    while self.used_protected > self.protected_cap {
                        let t = self.protected.tail;
                        let tsz = self.sizes[t as usize] as u64;
                        self.protected.unlink(&mut self.links, t);
                        self.used_protected -= tsz;
                        self.area[t as usize] = PROBATION;
                        self.probation.push_head(&mut self.links, t);
                        self.used_probation += tsz;
                    }
                }
                _ => self.protected.move_to_head(&mut self.links, s),
            }
            return true;
        }
        if size as u64 > self.cap {
            return false;
        }
        let s = self.slots.insert(key);
        ensure(&mut self.links, s);
        ensure(&mut self.sizes, s);
        ensure(&mut self.area, s);
        self.sizes[s as usize] = size;
        self.area[s as usize] = WINDOW;
        self.window.push_head(&mut self.links, s);
        self.used_window += size as u64;
        self.len += 1;
        while self.used_window > self.window_cap {
            let c = self.window.tail;
            self.admit(c);
        }
        false
    }

    fn used(&self) -> u64 {
        self.used_window + self.used_probation + self.used_protected
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
            + self.area.capacity()
            + self.sketch.table.capacity() * 8
    }
}
