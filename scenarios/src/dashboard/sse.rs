//! `GET /api/stream`: server-sent events. The first event is `init`
//! (topology, history, journal, the numbers now); then one `tick` per
//! round. A page that falls more than a few ticks behind gets a fresh
//! `init` instead of the ticks it missed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::dashboard::Hub;

/// The event stream of one page.
pub async fn stream(State(hub): State<Arc<Hub>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (init, rx) = hub.join();
    let s = futures_util::stream::unfold((hub, rx, Some(init)), |(hub, mut rx, init)| async move {
        if let Some(init) = init {
            return Some((Ok(Event::default().event("init").data(init)), (hub, rx, None)));
        }
        match rx.recv().await {
            Ok(tick) => Some((Ok(Event::default().event("tick").data(&*tick)), (hub, rx, None))),
            Err(RecvError::Lagged(_)) => {
                let (init, rx) = hub.join();
                Some((Ok(Event::default().event("init").data(init)), (hub, rx, None)))
            }
            Err(RecvError::Closed) => None,
        }
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
