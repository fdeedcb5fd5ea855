//! Doubly linked lists threaded through per-slot links (`u32` indices,
//! [`NIL`] for none), so moving an object costs a few array writes and no
//! allocation. Orientation follows libCacheSim: new objects enter at the
//! head, evictions take the tail, `prev` points towards the head.

/// No slot.
pub const NIL: u32 = u32::MAX;

/// The links of one slot.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Towards the head (newer).
    pub prev: u32,
    /// Towards the tail (older).
    pub next: u32,
}

impl Default for Link {
    fn default() -> Self {
        Link { prev: NIL, next: NIL }
    }
}

/// The ends of one list.
#[derive(Debug, Clone, Copy)]
pub struct List {
    /// Newest.
    pub head: u32,
    /// Oldest.
    pub tail: u32,
}

impl Default for List {
    fn default() -> Self {
        List { head: NIL, tail: NIL }
    }
}

impl List {
    /// Puts `s` (in no list) at the head.
    #[inline]
    pub fn push_head(&mut self, links: &mut [Link], s: u32) {
        links[s as usize] = Link { prev: NIL, next: self.head };
        if self.head != NIL {
            links[self.head as usize].prev = s;
        } else {
            self.tail = s;
        }
        self.head = s;
    }

    /// Takes `s` out of the list.
    #[inline]
    pub fn unlink(&mut self, links: &mut [Link], s: u32) {
        let Link { prev, next } = links[s as usize];
        if prev != NIL {
            links[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            links[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
        links[s as usize] = Link::default();
    }

    /// Moves `s` (in this list) to the head.
    #[inline]
    pub fn move_to_head(&mut self, links: &mut [Link], s: u32) {
        if self.head != s {
            self.unlink(links, s);
            self.push_head(links, s);
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.head == NIL
    }
}

/// Grows `v` so that index `slot` exists.
#[inline]
pub fn ensure<T: Default + Clone>(v: &mut Vec<T>, slot: u32) {
    if slot as usize >= v.len() {
        v.resize(slot as usize + 1, T::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(l: &List, links: &[Link]) -> Vec<u32> {
        let mut v = Vec::new();
        let mut s = l.head;
        while s != NIL {
            v.push(s);
            s = links[s as usize].next;
        }
        v
    }

    #[test]
    fn push_unlink_move() {
        let mut links = vec![Link::default(); 5];
        let mut l = List::default();
        for s in 0..4 {
            l.push_head(&mut links, s);
        }
        assert_eq!(order(&l, &links), [3, 2, 1, 0]);
        l.unlink(&mut links, 2);
        assert_eq!(order(&l, &links), [3, 1, 0]);
        l.move_to_head(&mut links, 0);
        assert_eq!(order(&l, &links), [0, 3, 1]);
        assert_eq!((l.head, l.tail), (0, 1));
        l.unlink(&mut links, 0);
        l.unlink(&mut links, 1);
        l.unlink(&mut links, 3);
        assert!(l.is_empty() && l.tail == NIL);
    }
}
