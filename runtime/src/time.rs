//! Waiting on the world's clock ([`world::Clock`] is pure; the waiting is
//! async, so it lives here).

use std::time::Duration;

use world::Clock;

/// Sleeps for a simulated duration on `clock` (so a world's `time_scale`
/// applies). A manual clock does not sleep (tests advance it explicitly);
/// it only yields.
pub async fn sleep(clock: &Clock, simulated: Duration) {
    if clock.is_manual() {
        tokio::task::yield_now().await;
    } else if !simulated.is_zero() {
        tokio::time::sleep(clock.to_wall(simulated)).await;
    }
}
