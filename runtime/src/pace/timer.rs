//! Wake-ups at precise instants for the pacer.
//!
//! tokio's timer wheel has a resolution of one millisecond and rounds every
//! deadline up to its next tick, so each paced wait would come out up to
//! 1 ms late (a paced request waits twice: the request's arrival, then the
//! first round), which is the whole budget of a warm fetch inside a region
//! (2 ms RTT). This timer is one thread sleeping on a condition variable
//! with a deadline (a futex with an absolute timeout: Linux wakes it within
//! the timer slack, 50 µs by default) and waking the tasks whose instants
//! have come. It holds only wakers: a task that has gone away is woken for
//! nothing, once.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::OnceLock;
use std::task::Waker;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

struct Entry {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed: the heap's top is the earliest instant.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

struct Timer {
    queue: Mutex<Queue>,
    changed: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer { queue: Mutex::default(), changed: Condvar::new() }));
        let spawned = std::thread::Builder::new().name("cdnlab-pace".into()).spawn(move || run(t));
        if let Err(e) = spawned {
            // Without the thread nothing would wake paced connections: say
            // so loudly; every paced wait then falls back to tokio's timer.
            tracing::error!(error = %e, "cannot start the pacing timer thread");
            FALLBACK.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        t
    })
}

static FALLBACK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Wakes `waker` at `at` (at once if `at` has passed).
pub(super) fn wake_at(at: Instant, waker: &Waker) {
    let t = timer();
    if FALLBACK.load(std::sync::atomic::Ordering::Relaxed) {
        let waker = waker.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            waker.wake();
        });
        return;
    }
    let mut q = t.queue.lock();
    let earliest = q.heap.peek().is_none_or(|e| at < e.at);
    q.seq += 1;
    let seq = q.seq;
    q.heap.push(Entry { at, seq, waker: waker.clone() });
    drop(q);
    if earliest {
        t.changed.notify_one();
    }
}

fn run(t: &'static Timer) {
    let mut due: Vec<Waker> = Vec::new();
    loop {
        {
            let mut q = t.queue.lock();
            loop {
                let now = Instant::now();
                while q.heap.peek().is_some_and(|e| e.at <= now) {
                    if let Some(e) = q.heap.pop() {
                        due.push(e.waker);
                    }
                }
                if !due.is_empty() {
                    break;
                }
                match q.heap.peek().map(|e| e.at) {
                    Some(at) => {
                        let _ = t.changed.wait_until(&mut q, at);
                    }
                    None => t.changed.wait(&mut q),
                }
            }
        }
        for w in due.drain(..) {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering as O};
    use std::task::Wake;
    use std::time::Duration;

    use super::*;

    struct Count(AtomicUsize, Mutex<Option<Instant>>);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, O::SeqCst);
            *self.1.lock() = Some(Instant::now());
        }
    }

    #[test]
    fn wakes_at_the_instant_not_before_and_within_a_millisecond() {
        let c = Arc::new(Count(AtomicUsize::new(0), Mutex::new(None)));
        let w = Waker::from(c.clone());
        let at = Instant::now() + Duration::from_millis(30);
        wake_at(at + Duration::from_secs(3600), &w); // a later one first
        wake_at(at, &w);
        while c.0.load(O::SeqCst) == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        let woke = c.1.lock().unwrap_or_else(Instant::now);
        assert!(woke >= at, "woken {:?} early", at - woke);
        assert!(woke - at < Duration::from_millis(1), "woken {:?} late", woke - at);
    }
}
