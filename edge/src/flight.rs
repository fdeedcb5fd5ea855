//! One fetch per key, however many clients wait (request collapsing). The
//! first request for a missing key starts a task; later ones await the
//! same shared result. The task runs to the end even if every client
//! leaves, so the response is still stored.
//!
//! Generic in what a flight yields: this module knows keys and tasks, not
//! what a fetch is (the edge's flights yield [`crate::fill::Fetched`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use parking_lot::Mutex;
use tokio::task::JoinError;

use crate::key::CacheKey;

/// A fetch others can wait on.
pub type Flight<T> = Shared<BoxFuture<'static, T>>;

/// The fetches in progress.
pub struct Flights<T> {
    map: Mutex<HashMap<CacheKey, (u64, Flight<T>)>>,
    next: AtomicU64,
    /// What waiters get when a flight's task panicked or was cancelled.
    broken: fn(JoinError) -> T,
}

impl<T: Clone + Send + Sync + 'static> Flights<T> {
    /// No flights; a flight whose task fails yields `broken(error)`.
    pub fn new(broken: fn(JoinError) -> T) -> Self {
        Flights { map: Mutex::default(), next: AtomicU64::new(0), broken }
    }

    /// Joins the fetch for `key`, or starts one with `start(id)` (spawned).
    /// Returns the flight and whether this caller started it.
    pub fn join_or_start(&self, key: &CacheKey, start: impl FnOnce(u64) -> BoxFuture<'static, T>) -> (Flight<T>, bool) {
        let mut map = self.map.lock();
        if let Some((_, f)) = map.get(key) {
            return (f.clone(), false);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        // The task calls `finish` when done, which waits for this lock, so
        // it cannot remove the entry before it is inserted.
        let task = tokio::spawn(start(id));
        let broken = self.broken;
        let flight = async move { task.await.unwrap_or_else(broken) }.boxed().shared();
        map.insert(key.clone(), (id, flight.clone()));
        (flight, true)
    }
}

impl<T> Flights<T> {
    /// Ends flight `id` for `key` (called by the fetch task itself, after
    /// storing, so later requests find the stored response).
    pub fn finish(&self, key: &CacheKey, id: u64) {
        let mut map = self.map.lock();
        if map.get(key).is_some_and(|(i, _)| *i == id) {
            map.remove(key);
        }
    }

    /// Detaches the fetches whose key `pred` selects: they run to the end
    /// for the requests already waiting, later requests start their own.
    /// Returns how many (a purge uses this).
    pub fn detach(&self, mut pred: impl FnMut(&CacheKey) -> bool) -> usize {
        let mut map = self.map.lock();
        let before = map.len();
        map.retain(|k, _| !pred(k));
        before - map.len()
    }

    /// Fetches in progress.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether no fetch is in progress.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
