//! CLOCK (second chance, FIFO-reinsertion) with a 1-bit reference counter,
//! libCacheSim's default (`Clock.c`, `n-bit-counter=1`): a hit sets the
//! bit; eviction looks at the oldest object, and if its bit is set clears
//! it and moves the object to the head instead of evicting it.

use std::collections::VecDeque;

use super::Policy;
use super::list::ensure;
use super::slots::Slots;

/// CLOCK with one reference bit.
pub struct Clock<S> {
    slots: S,
    /// (slot, size), oldest first: the clock hand is the front.
    queue: VecDeque<(u32, u32)>,
    referenced: Vec<bool>,
    used: u64,
    cap: u64,
}

impl<S: Slots> Clock<S> {
    /// An empty cache of `cap` bytes.
    pub fn new(cap: u64, keys: usize) -> Self {
        let slots = S::with_keys(keys);
        let n = slots.slot_bound();
        Clock { slots, queue: VecDeque::new(), referenced: vec![false; n], used: 0, cap }
    }
}

impl<S: Slots> Policy for Clock<S> {
    #[inline]
    fn access(&mut self, key: u64, size: u32) -> bool {
        if let Some(s) = self.slots.find(key) {
            self.referenced[s as usize] = true;
            return true;
        }
        if size as u64 > self.cap {
            return false;
        }
        while self.used + size as u64 > self.cap {
            let Some((s, sz)) = self.queue.pop_front() else { break };
            if self.referenced[s as usize] {
                self.referenced[s as usize] = false;
                self.queue.push_back((s, sz));
            } else {
                self.used -= sz as u64;
                let k = self.slots.key(s);
                self.slots.remove(k, s);
            }
        }
        let s = self.slots.insert(key);
        ensure(&mut self.referenced, s);
        self.referenced[s as usize] = false;
        self.queue.push_back((s, size));
        self.used += size as u64;
        false
    }

    fn used(&self) -> u64 {
        self.used
    }
    fn capacity(&self) -> u64 {
        self.cap
    }
    fn len(&self) -> usize {
        self.queue.len()
    }
    fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes() + self.queue.capacity() * 8 + self.referenced.capacity()
    }
}
