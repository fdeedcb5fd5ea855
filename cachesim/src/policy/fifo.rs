//! FIFO: objects leave in the order they came; a hit changes nothing.
//! libCacheSim `FIFO.c`: insert at the head, evict the tail.

use std::collections::VecDeque;

use super::Policy;
use super::slots::Slots;

/// First in, first out.
pub struct Fifo<S> {
    slots: S,
    /// (slot, size), oldest first.
    queue: VecDeque<(u32, u32)>,
    used: u64,
    cap: u64,
}

impl<S: Slots> Fifo<S> {
    /// An empty cache of `cap` bytes.
    pub fn new(cap: u64, keys: usize) -> Self {
        Fifo { slots: S::with_keys(keys), queue: VecDeque::new(), used: 0, cap }
    }
}

impl<S: Slots> Policy for Fifo<S> {
    #[inline]
    fn access(&mut self, key: u64, size: u32) -> bool {
        if self.slots.find(key).is_some() {
            return true;
        }
        if size as u64 > self.cap {
            return false;
        }
        while self.used + size as u64 > self.cap {
            let Some((s, sz)) = self.queue.pop_front() else { break };
            self.used -= sz as u64;
            let k = self.slots.key(s);
            self.slots.remove(k, s);
        }
        let s = self.slots.insert(key);
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
        self.slots.heap_bytes() + self.queue.capacity() * 8
    }
}
