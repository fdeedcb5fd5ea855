//! Belady's MIN: on a miss, evict the cached object whose next request is
//! farthest in the future (never-again objects first). It admits every
//! object that fits, like libCacheSim's `Belady.c`; with unit sizes that is
//! the optimum (forced admission loses nothing then), with variable sizes
//! it is a heuristic: neither optimal nor a bound (see [`crate::bound`]).
//!
//! The priority queue is the binary heap libCacheSim uses (`pqueue.c`,
//! Volkan Yazıcı's), operation for operation. Its only ties are between
//! objects never requested again, and their order cannot change the
//! counts: they all go before any other object, and another object is
//! evicted only when the request does not fit even without them (a run
//! with those ties broken at random gave the same counts on every trace
//! of the libCacheSim cross-check). O(log n) per request.

/// MIN with a max-heap of next-request indices.
pub struct Belady {
    /// 1-based heap of object numbers (`heap[0]` unused).
    heap: Vec<u32>,
    /// Heap position of each object, 0 when not cached.
    pos: Vec<u32>,
    /// Next request index of each cached object (`u64::MAX`: never).
    pri: Vec<u64>,
    sizes: Vec<u32>,
    used: u64,
    cap: u64,
}

impl Belady {
    /// An empty cache of `cap` bytes for objects `0..objects`.
    pub fn new(cap: u64, objects: usize) -> Belady {
        Belady { heap: vec![0], pos: vec![0; objects], pri: vec![0; objects], sizes: vec![0; objects], used: 0, cap }
    }

    /// A request for object `id` of `size` bytes whose next request is at
    /// index `next` (`u64::MAX`: never); true on a hit.
    pub fn access(&mut self, id: u32, size: u32, next: u64) -> bool {
        let i = id as usize;
        if self.pos[i] != 0 {
            self.change_priority(id, next);
            return true;
        }
        if size as u64 > self.cap {
            return false;
        }
        while self.used + size as u64 > self.cap {
            let v = self.pop();
            self.used -= self.sizes[v as usize] as u64;
        }
        self.sizes[i] = size;
        self.pri[i] = next;
        self.heap.push(id);
        let at = self.heap.len() - 1;
        self.bubble_up(at);
        self.used += size as u64;
        false
    }

    /// Bytes cached.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// `cmppri(next, curr)` of the reference: a max-heap.
    #[inline]
    fn below(&self, a: u64, b: u64) -> bool {
        a < b
    }

    fn set(&mut self, at: usize, id: u32) {
        self.heap[at] = id;
        self.pos[id as usize] = at as u32;
    }

    fn bubble_up(&mut self, mut i: usize) {
        let moving = self.heap[i];
        let p = self.pri[moving as usize];
        while i > 1 && self.below(self.pri[self.heap[i / 2] as usize], p) {
            let up = self.heap[i / 2];
            self.set(i, up);
            i /= 2;
        }
        self.set(i, moving);
    }

    fn max_child(&self, i: usize) -> usize {
        let c = 2 * i;
        if c >= self.heap.len() {
            return 0;
        }
        if c + 1 < self.heap.len() && self.below(self.pri[self.heap[c] as usize], self.pri[self.heap[c + 1] as usize]) {
            c + 1
        } else {
            c
        }
    }

    fn percolate_down(&mut self, mut i: usize) {
        let moving = self.heap[i];
        let p = self.pri[moving as usize];
        loop {
            let c = self.max_child(i);
            if c == 0 || !self.below(p, self.pri[self.heap[c] as usize]) {
                break;
            }
            let down = self.heap[c];
            self.set(i, down);
            i = c;
        }
        self.set(i, moving);
    }

    fn change_priority(&mut self, id: u32, next: u64) {
        let old = self.pri[id as usize];
        self.pri[id as usize] = next;
        let at = self.pos[id as usize] as usize;
        if self.below(old, next) {
            self.bubble_up(at);
        } else {
            self.percolate_down(at);
        }
    }

    fn pop(&mut self) -> u32 {
        let top = self.heap[1];
        let last = self.heap.pop().unwrap_or(top);
        if self.heap.len() > 1 {
            self.heap[1] = last;
            self.percolate_down(1);
        }
        self.pos[top as usize] = 0;
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loaded::{NEVER, Trace};

    fn misses(cap: u64, pairs: &[(u64, u32)]) -> u64 {
        let t = Trace::from_pairs(pairs.iter().copied());
        let next = t.next_use();
        let mut b = Belady::new(cap, t.objects());
        let mut m = 0;
        for (i, &nx) in next.iter().enumerate() {
            let n = if nx == NEVER { u64::MAX } else { nx as u64 };
            m += !b.access(t.ids[i], t.sizes[i], n) as u64;
            assert!(b.used() <= cap);
        }
        m
    }

    #[test]
    fn the_textbook_reference_string_faults_nine_times_with_three_frames() {
        // Silberschatz et al., Operating System Concepts, the optimal
        // page-replacement example: 20 references, 3 frames, 9 faults.
        let refs = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        let pairs: Vec<(u64, u32)> = refs.iter().map(|&k| (k, 1)).collect();
        assert_eq!(misses(3, &pairs), 9);
        // LRU faults 12 times on the same string (same book)
        let mut lru = crate::policy::Cache::<crate::policy::Dense>::new(crate::policy::Kind::Lru, 3, 8);
        let lru_misses = refs.iter().filter(|&&k| !crate::policy::Policy::access(&mut lru, k, 1)).count();
        assert_eq!(lru_misses, 12);
    }

    #[test]
    fn the_farthest_next_use_is_evicted() {
        // cache 2: A B | C evicts B (next at 4, A's at 3) | A hit | B miss evicts C (never)
        assert_eq!(misses(2, &[(0, 1), (1, 1), (2, 1), (0, 1), (1, 1)]), 4);
        // objects larger than the cache are refused, nothing evicted
        assert_eq!(misses(2, &[(0, 1), (9, 5), (0, 1)]), 2);
    }
}
